// `npm run bench`: Mailroom side by side with Dovecot+Postfix (issue #7). Starts Mailroom and, unless
// --no-peers, the Debian peers (installed with apt-get when missing and allowed) in one throw-away
// directory on 127.0.0.1 high ports; runs every workload against both with the same load
// generators; prints the table and writes bench/results/latest.json, report.md and ratios.svg.
// Every server started here is stopped at the end, also on failure and on Ctrl-C.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBenchArgs, type BenchOptions } from "./lib/args.js";
import { executeWorkload } from "./lib/execute.js";
import { renderMarkdown, renderRatioChart } from "./lib/report.js";
import { renderTextTable, type BenchResults, type MetricResult, type WorkloadMemory } from "./lib/results.js";
import { startMailroom } from "./servers/mailroom.js";
import { startPeer } from "./servers/peer.js";
import { ensurePeersInstalled } from "./servers/peer-install.js";
import type { Target } from "./servers/target.js";
import { catalog, selectWorkloads } from "./workloads/catalog.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const RESULTS_DIR = join(REPO_ROOT, "bench", "results");

const say = (line: string): void => void process.stdout.write(line + "\n");

function mailroomVersion(): string {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version?: string };
  const rev = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" });
  return `${pkg.version ?? "?"}${rev.status === 0 ? ` (${rev.stdout.trim()})` : ""}`;
}

function setupNotes(options: BenchOptions): string[] {
  return [
    "Same TLS on both sides: none. Every client talks plaintext over 127.0.0.1 (Mailroom listeners tls = \"none\" with plaintext auth allowed; Dovecot ssl = no, disable_plaintext_auth = no; Postfix smtpd without TLS).",
    "Same durability: Mailroom answers 250/OK only after the message file, its directory and the SQLite WAL (synchronous=FULL) are fsynced, with group commit; Dovecot mail_fsync = always; Postfix fsyncs its queue file before 250 (its default) and Dovecot's LMTP fsyncs the delivery.",
    "Same password hashing: Argon2id m=1024 KiB, t=1, p=1 on both (Mailroom [auth] argon2_*, Dovecot {ARGON2ID} hashes in a passwd-file).",
    "Mailroom's MX verifies SPF, DKIM and DMARC on every inbound message (DNS lookups through this machine's resolver, cached); the Postfix instance does no such checks. SMTP inbound times end when the last message is readable over IMAP (POP3 when a side has no IMAP).",
    "Dovecot: Maildir, login processes in high-performance mode (service_count = 0), one imap process per connection (its default), LMTP from Postfix (virtual_transport = lmtp:inet). Postfix: a separate instance (own config, queue and data directories), default queue and concurrency settings.",
    `Runs alternate between the servers (Mailroom first in odd runs, the peer first in even runs), ${options.runs} per workload; corpus seed ${options.seed}; ${options.quick ? "quick sizes (--quick)" : "full sizes"}.`,
  ];
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const workloads = selectWorkloads(catalog(options), options.only);
  const startedAt = new Date().toISOString();
  // Other work on the machine skews both sides; the load average at both ends records how much.
  const loadAtStart = loadavg()[0] ?? 0;
  const dir = await mkdtemp(join(tmpdir(), "mailroom-bench-"));
  // Postfix and Dovecot drop root and must traverse it; what is private below sets its own modes.
  await chmod(dir, 0o755);
  const targets: Target[] = [];
  let cleaning: Promise<void> | null = null;
  const cleanUp = (): Promise<void> => {
    cleaning ??= (async () => {
      for (const target of targets.splice(0).reverse()) await target.stop().catch((err: unknown) => say(`stopping ${target.label}: ${String(err)}`));
      if (!options.keep) await rm(dir, { recursive: true, force: true }).catch(() => {});
    })();
    return cleaning;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    say(`\n${signal}: stopping the servers ...`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  // A bug that escapes the workloads must not leave servers running: stop them, then fail.
  process.once("unhandledRejection", (reason) => {
    say(`bench crashed: ${String(reason)}`);
    void cleanUp().finally(() => process.exit(1));
  });
  // Last resort on any exit path that skipped the cleanup: kill what is still ours.
  process.once("exit", () => {
    for (const target of targets) for (const pid of target.rootPids()) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
  });

  try {
    const accounts = [...new Set(workloads.flatMap((w) => w.accounts(options.runs)))];
    const idleConnections = options.quick ? 500 : 10_000;
    say(`bench directory ${dir}${options.keep ? " (kept)" : ""}; ${workloads.length} workloads, ${options.runs} runs each`);
    say("starting Mailroom ...");
    const mailroom = await startMailroom(join(dir, "mailroom"), accounts, workloads.flatMap((w) => w.prefill ?? []), say);
    targets.push(mailroom);
    let peer: Target | null = null;
    let peerSkipped: string | null = options.peers ? null : "--no-peers";
    let peerVersions: string | null = null;
    const peerNotes: string[] = [];
    if (options.peers) {
      peerSkipped = await ensurePeersInstalled(options.install, say);
      if (!peerSkipped) {
        say("starting Dovecot and Postfix ...");
        try {
          const started = await startPeer(join(dir, "peer"), accounts, idleConnections + 500);
          targets.push(started);
          peer = started;
          peerVersions = started.versions;
          peerNotes.push(...started.notes);
        } catch (err) {
          peerSkipped = `could not start: ${(err as Error).message.split("\n")[0]}`;
        }
      }
      if (peerSkipped) say(`peer skipped: ${peerSkipped}`);
    }

    const metrics: MetricResult[] = [];
    const memory: WorkloadMemory[] = [];
    for (const workload of workloads) {
      say(`\n${workload.id}: ${workload.title}`);
      const outcome = await executeWorkload(workload, mailroom, peer, peerSkipped, { options, say });
      metrics.push(...outcome.metrics);
      memory.push(outcome.memory);
    }
    await cleanUp();

    const results: BenchResults = {
      startedAt,
      finishedAt: new Date().toISOString(),
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
      options: { quick: options.quick, peers: options.peers, only: options.only, runs: options.runs, seed: options.seed },
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model.trim() ?? "unknown", memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), node: process.version, loadAverage: [loadAtStart, loadavg()[0] ?? 0] },
      versions: { mailroom: mailroomVersion(), peer: peerVersions },
      setup: [...setupNotes(options), ...peerNotes],
      metrics,
      memory,
      notes: [
        "Big mailboxes (imap-10k and up) are built outside the protocols: Mailroom's through its store API before `mailroom serve` starts, Dovecot's by writing its Maildir and letting Dovecot index it with an untimed SELECT (bench/lib/prefill.ts).",
        "Mailroom keeps every account in one SQLite database, so its index size / mail size row sets the whole database against all the mail the bench filled in; run a big mailbox alone (--only imap-100k-small) for that mailbox's own ratio.",
      ],
    };
    say("");
    say(renderTextTable(results));
    // Only a full run with peers is a result worth keeping in the repository; quick and
    // Mailroom-only runs (CI's) go to bench/results/quick/, which git ignores.
    const full = !options.quick && options.peers && peerVersions !== null;
    const outDir = full ? RESULTS_DIR : join(RESULTS_DIR, "quick");
    await mkdir(outDir, { recursive: true });
    await writeFile(join(outDir, "latest.json"), JSON.stringify(results, null, 2) + "\n");
    await writeFile(join(outDir, "report.md"), renderMarkdown(results));
    await writeFile(join(outDir, "ratios.svg"), renderRatioChart(results));
    say(`wrote ${join("bench", "results", full ? "" : "quick", "latest.json")}, report.md and ratios.svg`);
    // Mailroom's own side must run: a workload it skipped for a missing protocol is reported, but
    // a failure is an error, so CI notices when the bench rots.
    const failed = metrics.filter((m) => m.mailroomSkipped?.includes("failed"));
    return failed.length > 0 ? 1 : 0;
  } catch (err) {
    say(`bench failed: ${(err as Error).stack ?? String(err)}`);
    return 1;
  } finally {
    await cleanUp();
  }
}

process.exitCode = await main();
