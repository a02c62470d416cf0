// The event-loop delay `mailroom status` reports (perf_hooks.monitorEventLoopDelay): admin work
// inside the server must keep it under 50 ms (docs/architecture.md, "One owner per data dir").
import { monitorEventLoopDelay } from "node:perf_hooks";

const LOOP_RESOLUTION_MS = 10;

export function eventLoopMonitor(): { snapshot(reset: boolean): Record<string, number>; stop(): void } {
  const histogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  histogram.enable();
  // Each sample is the time between two ticks of a RESOLUTION timer: the stall is what exceeds it.
  const stallMs = (ns: number) => Math.max(0, Math.round(ns / 1e4 - LOOP_RESOLUTION_MS * 100) / 100);
  return {
    snapshot(reset) {
      const values = { maxStallMs: stallMs(histogram.max), p99StallMs: stallMs(histogram.percentile(99)), samples: histogram.count };
      if (reset) histogram.reset();
      return values;
    },
    stop: () => histogram.disable(),
  };
}
