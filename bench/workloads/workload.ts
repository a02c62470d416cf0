// The contract every workload implements, and what the runner gives it. A workload names the
// services it needs (a target missing one is skipped with the reason), the accounts it will use
// (created on both servers before they start), an untimed prepare step per target, and a timed
// run that returns one number per declared metric.
import type { BenchOptions } from "../lib/args.js";
import type { PrefillSpec } from "../lib/prefill.js";
import type { Service, Target } from "../servers/target.js";

export interface MetricSpec {
  id: string;
  title: string;
  unit: string;
  better: "lower" | "higher";
  /** Issue #13's target for the metric: Mailroom's median at most `max` (in `unit`), and/or a ratio (peer / Mailroom, better-adjusted) of at least `minRatio`. */
  goal?: Goal;
  /** Only Mailroom has this figure (the event loop): the peer's row says why instead. */
  mailroomOnly?: string;
}

export interface Goal {
  max?: number;
  minRatio?: number;
}

export interface WorkloadContext {
  options: BenchOptions;
  say(line: string): void;
}

export interface Workload {
  id: string;
  title: string;
  needs: Service[];
  metrics: MetricSpec[];
  /** Why the peer is not measured, for a Mailroom-only workload; the peer is then skipped with it. */
  peerSkip?: string;
  /** Run only when --only names its exact id (the 1M mailbox). */
  optIn?: boolean;
  /** Mailboxes to build outside the protocols before the run (bench/lib/prefill.ts). */
  prefill?: PrefillSpec[];
  /** Local parts of every account the workload uses over `runs` runs. */
  accounts(runs: number): string[];
  /** Untimed: fill mailboxes and the like. Called once per target before its first run. */
  prepare?(target: Target, ctx: WorkloadContext): Promise<void>;
  /** One timed run; returns a value for every metric id. */
  run(target: Target, ctx: WorkloadContext, runIndex: number): Promise<Record<string, number>>;
}

/** A result that explains itself when a target cannot run the workload. */
export function missingService(workload: Workload, target: Target): string | null {
  for (const service of workload.needs) {
    if (!target.endpoints[service]) return target.unavailable[service] ?? `${target.label} has no ${service.toUpperCase()} endpoint`;
  }
  return null;
}
