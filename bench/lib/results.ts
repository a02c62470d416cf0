// The shape of bench/results/latest.json, and the plain-text table printed at the end of a run.
import type { Goal } from "../workloads/workload.js";
import type { Summary } from "./stats.js";

export interface MetricResult {
  workload: string;
  metric: string;
  title: string;
  unit: string;
  better: "lower" | "higher";
  mailroom: Summary | null;
  peer: Summary | null;
  /** >1 means Mailroom is better; null when either side did not run. */
  ratio: number | null;
  mailroomSkipped?: string;
  peerSkipped?: string;
  goal?: Goal;
  /** Whether the goal holds: null when there is none, or a side it needs did not run. */
  pass?: boolean | null;
}

/** The goal as text: "≤ 50 ms, ≥ 1x". */
export function formatGoal(m: MetricResult): string {
  const parts: string[] = [];
  if (m.goal?.max !== undefined) parts.push(`${m.better === "lower" ? "≤" : "≥"} ${m.goal.max} ${m.unit}`);
  if (m.goal?.minRatio !== undefined) parts.push(`ratio ≥ ${m.goal.minRatio}`);
  return parts.length > 0 ? parts.join(", ") : "—";
}

export function judgeGoal(m: MetricResult): boolean | null {
  const goal = m.goal;
  if (!goal || (goal.max === undefined && goal.minRatio === undefined)) return null;
  if (!m.mailroom) return false;
  if (goal.max !== undefined && !(m.better === "lower" ? m.mailroom.median <= goal.max : m.mailroom.median >= goal.max)) return false;
  if (goal.minRatio !== undefined) {
    if (m.ratio === null) return null;
    if (m.ratio < goal.minRatio) return false;
  }
  return true;
}

export const formatPass = (pass: boolean | null | undefined): string => (pass === true ? "pass" : pass === false ? "FAIL" : "n/a");

export interface WorkloadMemory {
  workload: string;
  mailroomPeakRssKib: number | null;
  peerPeakRssKib: number | null;
  peerProcesses: number | null;
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  command: string;
  options: { quick: boolean; peers: boolean; only: string[] | null; runs: number; seed: number };
  /** loadAverage: the 1-minute load average when the run started and when it ended. */
  machine: { cpus: number; cpuModel: string; memoryGiB: number; kernel: string; node: string; loadAverage: [number, number] };
  versions: { mailroom: string; peer: string | null };
  setup: string[];
  metrics: MetricResult[];
  memory: WorkloadMemory[];
  notes: string[];
}

export function formatValue(value: number, unit: string): string {
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${unit}`;
}

export const formatSpread = (s: Summary | null): string => (s ? `±${((s.spread * 100) / 2).toFixed(0)}%` : "");

export const formatRatio = (r: number | null): string => (r === null ? "—" : `${r.toFixed(2)}x`);

export const formatMiB = (kib: number | null): string => (kib === null ? "—" : `${(kib / 1024).toFixed(0)} MiB`);

function cell(summary: Summary | null, unit: string, skipped: string | undefined): string {
  if (summary) return `${formatValue(summary.median, unit)} ${formatSpread(summary)}`;
  return skipped ? "skipped" : "—";
}

/** Rows of equal-width columns; skip reasons follow the table, numbered, so rows stay short. */
export function renderTextTable(results: BenchResults): string {
  const header = ["workload", "metric", "Mailroom", results.options.peers ? "Dovecot+Postfix" : "peer", "ratio", "target", "pass/fail"];
  const rows = results.metrics.map((m) => [m.workload, m.title, cell(m.mailroom, m.unit, m.mailroomSkipped), cell(m.peer, m.unit, m.peerSkipped), formatRatio(m.ratio), formatGoal(m), formatPass(m.pass)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const out = [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line), ""];
  out.push("peak RSS of the server processes per workload:");
  for (const m of results.memory) out.push(`  ${m.workload.padEnd(18)} Mailroom ${formatMiB(m.mailroomPeakRssKib).padStart(9)}   peer ${formatMiB(m.peerPeakRssKib).padStart(9)}${m.peerProcesses ? ` (${m.peerProcesses} processes)` : ""}`);
  // One line per distinct reason, naming the workloads it applies to.
  const reasons = new Map<string, Set<string>>();
  const note = (reason: string, workload: string) => reasons.set(reason, (reasons.get(reason) ?? new Set()).add(workload));
  for (const m of results.metrics) {
    if (m.mailroomSkipped) note(`Mailroom skipped: ${m.mailroomSkipped}`, m.workload);
    if (m.peerSkipped) note(`peer skipped: ${m.peerSkipped}`, m.workload);
  }
  if (reasons.size > 0) out.push("", ...[...reasons].map(([reason, workloads]) => `  ${[...workloads].join(", ")}: ${reason}`));
  return out.join("\n") + "\n";
}
