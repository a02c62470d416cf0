// `mailroom import` of a large mbox (issue 21), as an opt-in workload: bench/import-mbox.ts writes
// a seeded "mixed" mbox once (untimed), then each run imports it into a fresh SQLite store in a
// process of its own and reports MB/s and that process's peak RSS. Mailroom only: the peer has
// no such command. Opt-in (--only import-mbox-1024m) because writing and reading a GB takes long.
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Workload } from "./workload.js";

const SCRIPT = fileURLToPath(new URL("../import-mbox.js", import.meta.url));

export function importMbox(options: { megabytes: number }): Workload {
  const { megabytes } = options;
  let dir: string | null = null;
  const file = () => join(dir!, "bench.mbox");
  return {
    id: `import-mbox-${megabytes}m`,
    title: `mailroom import of a ${megabytes} MB mbox`,
    needs: [],
    optIn: true,
    peerSkip: "not measured: importing an mbox is Mailroom's own command (mailroom import)",
    metrics: [
      { id: "rate", title: `import of a ${megabytes} MB mbox`, unit: "MB/s", better: "higher" },
      { id: "rss", title: `peak RSS importing ${megabytes} MB`, unit: "MB", better: "lower" },
    ],
    accounts: () => [],
    async prepare() {
      dir = await mkdtemp(join(tmpdir(), "mailroom-bench-mbox-"));
      const written = spawnSync(process.execPath, [SCRIPT, "--write", file(), String(megabytes), "mixed"], { encoding: "utf8" });
      if (written.status !== 0) throw new Error(`writing the mbox failed: ${written.stderr}`);
    },
    async run(_target, ctx, runIndex) {
      try {
        const child = spawnSync(process.execPath, [SCRIPT, "--run", file()], { encoding: "utf8", maxBuffer: 1 << 20 });
        if (child.status !== 0) throw new Error(`the import failed: ${child.stderr}`);
        const result = JSON.parse(child.stdout.trim().split("\n").pop()!) as { mbPerSecond: number; peakRssMb: number; problems: number };
        if (result.problems !== 0) throw new Error(`the import reported ${result.problems} problem(s)`);
        return { rate: result.mbPerSecond, rss: result.peakRssMb };
      } finally {
        if (runIndex === ctx.options.runs - 1 && dir) await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
