// `node dist/bench/compare-commits.js --base <checkout> [--head <checkout>] [bench flags]`: one compiled
// checkout of Mailroom (--head, default this one) against another (a `git worktree` of an older
// commit, built with tsc), both on the
// embedded SQLite store, with the same workload code, load generators and corpus, so a regression
// between two commits is measured apples to apples (issue 15: "the SQLite backend keeps its speed").
//
// Each side runs its own server and its own store code from its own dist/ (the prefill of big
// mailboxes too, so each writes its own schema). The runs alternate between the builds as in
// `npm run bench` (this build first in odd runs, the base first in even runs), so the drift of a
// shared machine hits both alike. Prints one row per metric: both medians, each side's runs and
// the change of this build against the base (positive = better, whichever way the metric points).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBenchArgs, type BenchOptions } from "./lib/args.js";
import { executeWorkload } from "./lib/execute.js";
import type { MetricResult } from "./lib/results.js";
import { startMailroom } from "./servers/mailroom.js";
import type { Target } from "./servers/target.js";
import { catalog, selectWorkloads } from "./workloads/catalog.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const USAGE = "usage: node dist/bench/compare-commits.js --base <built checkout> [--head <built checkout>] [--only w,...] [--runs N] [--quick] [--seed N] [--keep]";

/** Takes `--flag <dir>` out of argv; the resolved directory, or null when absent. */
function takeDirFlag(argv: string[], flag: string): string | null {
  const at = argv.indexOf(flag);
  if (at < 0) return null;
  const value = argv[at + 1];
  if (value === undefined) throw new Error(`${flag} needs a directory`);
  argv.splice(at, 2);
  return resolve(value);
}

const say = (line: string): void => void process.stdout.write(line + "\n");

function revision(dir: string): string {
  const rev = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: dir, encoding: "utf8" });
  return rev.status === 0 ? rev.stdout.trim() : "?";
}

/** Signed change of `head` against `base`, in percent: positive when head is better. */
function changePercent(head: number, base: number, better: "lower" | "higher"): number {
  return better === "higher" ? ((head - base) / base) * 100 : ((base - head) / base) * 100;
}

const fmt = (n: number): string => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toPrecision(3));

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let baseRoot: string | null;
  let headRoot: string;
  let options: BenchOptions;
  try {
    baseRoot = takeDirFlag(argv, "--base");
    // A separate checkout for head too lets this one be rebuilt while a long comparison runs.
    headRoot = takeDirFlag(argv, "--head") ?? REPO_ROOT;
    if (baseRoot === null) throw new Error(USAGE);
    for (const root of [baseRoot, headRoot]) {
      if (!existsSync(join(root, "dist", "src", "main.js"))) throw new Error(`${root}/dist/src/main.js is missing: build that checkout first (npx tsc -p tsconfig.json there)`);
    }
    options = { ...parseBenchArgs(argv), peers: false };
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  // Mailroom-only figures (the event loop) are measured on both builds here: both are Mailroom.
  const workloads = selectWorkloads(catalog(options), options.only).map((w) => {
    const { peerSkip: _ignored, ...rest } = w;
    return { ...rest, metrics: w.metrics.map(({ mailroomOnly: _m, ...m }) => m) };
  });
  const headLabel = `head ${revision(headRoot)}`;
  const baseLabel = `base ${revision(baseRoot)}`;
  const dir = await mkdtemp(join(tmpdir(), "mailroom-compare-"));
  // `mailroom serve` as root drops to its own user, which must traverse the directory (as in bench/run.ts).
  await chmod(dir, 0o755);
  const targets: Target[] = [];
  const cleanUp = async (): Promise<void> => {
    for (const target of targets.splice(0).reverse()) await target.stop().catch((err: unknown) => say(`stopping ${target.label}: ${String(err)}`));
    if (!options.keep) await rm(dir, { recursive: true, force: true }).catch(() => {});
  };
  process.once("SIGINT", () => void cleanUp().finally(() => process.exit(130)));
  process.once("exit", () => {
    for (const target of targets) for (const pid of target.rootPids()) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
  });
  const loadAtStart = loadavg()[0] ?? 0;
  try {
    const accounts = [...new Set(workloads.flatMap((w) => w.accounts(options.runs)))];
    const prefills = workloads.flatMap((w) => w.prefill ?? []);
    say(`compare directory ${dir}; ${headLabel} (${headRoot}) against ${baseLabel} (${baseRoot}); ${workloads.length} workloads, ${options.runs} runs each`);
    const head = await startMailroom(join(dir, "head"), accounts, prefills, say, { root: headRoot, label: headLabel });
    targets.push(head);
    const base = await startMailroom(join(dir, "base"), accounts, prefills, say, { root: baseRoot, label: baseLabel });
    targets.push(base);
    const metrics: MetricResult[] = [];
    for (const workload of workloads) {
      say(`\n${workload.id}: ${workload.title}`);
      const outcome = await executeWorkload(workload, head, base, null, { options, say });
      metrics.push(...outcome.metrics);
    }
    await cleanUp();
    const lines = [
      `${headLabel} against ${baseLabel}; runs alternate, ${options.runs} per side; load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end.`,
      "",
      "| workload | metric | unit | base median | head median | change (+ = head better) | base runs | head runs |",
      "| --- | --- | --- | ---: | ---: | ---: | --- | --- |",
    ];
    for (const m of metrics) {
      const runs = (s: MetricResult["mailroom"]): string => (s ? s.runs.map(fmt).join(", ") : "—");
      const change = m.mailroom && m.peer ? `${changePercent(m.mailroom.median, m.peer.median, m.better) >= 0 ? "+" : ""}${changePercent(m.mailroom.median, m.peer.median, m.better).toFixed(1)}%` : (m.mailroomSkipped ?? m.peerSkipped ?? "—");
      lines.push(`| ${m.workload} | ${m.title} | ${m.unit} | ${m.peer ? fmt(m.peer.median) : "—"} | ${m.mailroom ? fmt(m.mailroom.median) : "—"} | ${change} | ${runs(m.peer)} | ${runs(m.mailroom)} |`);
    }
    say("");
    for (const line of lines) say(line);
    const outDir = join(REPO_ROOT, "bench", "results", "quick");
    await mkdir(outDir, { recursive: true });
    await writeFile(join(outDir, "compare-commits.json"), JSON.stringify({ head: headLabel, base: baseLabel, options, metrics }, null, 2) + "\n");
    await writeFile(join(outDir, "compare-commits.md"), lines.join("\n") + "\n");
    say(`wrote bench/results/quick/compare-commits.json and compare-commits.md`);
    return metrics.some((m) => m.mailroomSkipped?.includes("failed") || m.peerSkipped?.includes("failed")) ? 1 : 0;
  } catch (err) {
    say(`compare failed: ${(err as Error).stack ?? String(err)}`);
    return 1;
  } finally {
    await cleanUp();
  }
}

process.exitCode = await main();
