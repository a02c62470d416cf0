// Resident memory of a server: VmRSS from /proc/<pid>/status summed over each root process and all
// its descendants (Dovecot and Postfix are trees of many processes; Mailroom is one). Summing RSS
// counts shared pages (libc, the Dovecot libraries) once per process, which is what the issue asks
// for and what `ps` shows; the report says so. Linux only: elsewhere the sampler reports nothing.
import { readdir, readFile } from "node:fs/promises";

/**
 * fn over items with at most `limit` calls in flight: reading /proc for 10,000 processes at once
 * would run out of file descriptors (the bench itself holds 10,000 sockets), and a failed read
 * looks like a vanished process.
 */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await fn(items[index]!);
      }
    }),
  );
  return results;
}

const PROC_READS_IN_FLIGHT = 64;

/** Every live pid with its parent, read from /proc/<pid>/stat. */
async function parentMap(): Promise<Map<number, number>> {
  const parents = new Map<number, number>();
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return parents;
  }
  await mapLimited(
    entries.filter((name) => /^\d+$/.test(name)),
    PROC_READS_IN_FLIGHT,
    async (name) => {
      try {
        const stat = await readFile(`/proc/${name}/stat`, "latin1");
        // The command name is in parentheses and may contain spaces: fields resume after the last ")".
        const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        parents.set(Number(name), Number(rest[1]));
      } catch {
        // exited between readdir and readFile
      }
    },
  );
  return parents;
}

export async function descendantsOf(roots: readonly number[]): Promise<number[]> {
  const parents = await parentMap();
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) {
    const siblings = children.get(ppid);
    if (siblings) siblings.push(pid);
    else children.set(ppid, [pid]);
  }
  const found = new Set<number>();
  const pending = roots.filter((pid) => parents.has(pid));
  while (pending.length > 0) {
    const pid = pending.pop()!;
    if (found.has(pid)) continue;
    found.add(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return [...found];
}

async function rssKib(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "latin1");
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

export interface TreeMemory {
  rssKib: number;
  processes: number;
}

/**
 * Proportional set size summed over the tree (/proc/<pid>/smaps_rollup): shared pages split among
 * the processes sharing them, so a tree of 10,000 processes is not charged 10,000 times for libc.
 * Slower to read than VmRSS, so taken only at chosen moments, not by the sampler.
 */
export async function treePssKib(roots: readonly number[]): Promise<number> {
  const pids = await descendantsOf(roots);
  const sizes = await mapLimited(pids, PROC_READS_IN_FLIGHT, async (pid) => {
      try {
        const rollup = await readFile(`/proc/${pid}/smaps_rollup`, "latin1");
        const match = /^Pss:\s+(\d+)\s+kB/m.exec(rollup);
        return match ? Number(match[1]) : 0;
      } catch {
        return 0;
      }
    });
  return sizes.reduce((a, b) => a + b, 0);
}

export async function treeMemory(roots: readonly number[]): Promise<TreeMemory> {
  const pids = await descendantsOf(roots);
  const sizes = await mapLimited(pids, PROC_READS_IN_FLIGHT, rssKib);
  return { rssKib: sizes.reduce((a, b) => a + b, 0), processes: pids.length };
}

/**
 * Samples a tree's memory until stopped and keeps the peak. The interval stretches to 20x the cost
 * of one scan, so sampling 10,000 Dovecot processes does not itself become the load.
 */
export class PeakRssSampler {
  private peak: TreeMemory = { rssKib: 0, processes: 0 };
  private timer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly roots: () => readonly number[], private readonly baseIntervalMs = 100) {}

  start(): this {
    const tick = async (): Promise<void> => {
      const started = Date.now();
      await this.sampleOnce();
      if (this.stopped) return;
      const cost = Date.now() - started;
      this.timer = setTimeout(() => { this.scanning = tick(); }, Math.max(this.baseIntervalMs, cost * 20));
    };
    this.scanning = tick();
    return this;
  }

  async sampleOnce(): Promise<TreeMemory> {
    const now = await treeMemory(this.roots());
    if (now.rssKib > this.peak.rssKib) this.peak = now;
    return now;
  }

  async stop(): Promise<TreeMemory> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.scanning;
    await this.sampleOnce();
    return this.peak;
  }
}
