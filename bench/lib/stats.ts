// Summary statistics of repeated runs: the median is what the table compares, the spread says how
// much to trust it (the range of the runs as a share of their median).

export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number[];
  /** (max - min) / median, 0 when a single run was made. */
  spread: number;
}

export function summarize(runs: readonly number[]): Summary | null {
  if (runs.length === 0) return null;
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  return { median, min, max, runs: [...runs], spread: median === 0 ? 0 : (max - min) / median };
}

/** >1 means Mailroom is better, whichever direction "better" is for the metric. */
export function ratioOf(mailroom: number, peer: number, better: "lower" | "higher"): number | null {
  if (!(mailroom > 0) || !(peer > 0)) return null;
  return better === "lower" ? peer / mailroom : mailroom / peer;
}

export const elapsedMs = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e6;
