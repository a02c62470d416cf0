// How long the fuzz campaign runs. The normal suite runs a short campaign (a few seconds per
// target); `FUZZ_RUNS=200000 node scripts/run-tests.mjs fuzz` runs a long one on demand, and
// FUZZ_SEED and FUZZ_PATH replay a failure (fast-check prints both with every counterexample).
import type { Parameters } from "fast-check";

const DEFAULT_RUNS = 400;

export function fuzzRuns(): number {
  const runs = Number(process.env.FUZZ_RUNS ?? DEFAULT_RUNS);
  return Number.isInteger(runs) && runs > 0 ? runs : DEFAULT_RUNS;
}

/** fast-check parameters for one campaign; the test's own timeout grows with the runs. */
export function fuzzParameters<T>(): Parameters<T> {
  const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
  const path = process.env.FUZZ_PATH;
  return { numRuns: fuzzRuns(), ...(seed === undefined ? {} : { seed }), ...(path === undefined ? {} : { path }), endOnFailure: true, includeErrorInReport: true };
}

/** A node:test timeout for a campaign: generous per run, so only a hang trips it. */
export function fuzzTimeoutMs(): number {
  return 60_000 + fuzzRuns() * 50;
}

/**
 * Longest time one input may take. Inputs are at most a few tens of KB, which the code under
 * test handles in well under a millisecond per KB; the bound catches a hang or a quadratic blow-up,
 * not slowness on a loaded machine.
 */
export const HANG_MS = 2_000;
