// Live memory of this process, for tests that prove a server running in-process does not hold a
// large message while it streams. A full GC runs before the baseline and before every sample, so
// garbage V8 has not collected yet (socket chunks already written to disk: V8 collects external
// memory by thresholds, not per chunk) does not count; only what is still referenced does.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

let gc: (() => void) | null = null;

/** A full garbage collection (V8's gc(), exposed at run time for this process). */
export function collectGarbage(): void {
  if (gc === null) {
    setFlagsFromString("--expose-gc");
    gc = runInNewContext("gc") as () => void;
  }
  gc();
}

export interface LiveMemorySampler {
  /** Stops sampling; growth of the peaks over the baseline, in octets. */
  stop(): { rssGrowth: number; bufferGrowth: number };
}

/** Samples RSS and arrayBuffers after a full GC every `intervalMs` until stop(). */
export function sampleLiveMemory(intervalMs = 50): LiveMemorySampler {
  collectGarbage();
  const before = process.memoryUsage();
  let peakRss = before.rss;
  let peakArrayBuffers = before.arrayBuffers;
  const sample = (): void => {
    collectGarbage();
    const now = process.memoryUsage();
    peakRss = Math.max(peakRss, now.rss);
    peakArrayBuffers = Math.max(peakArrayBuffers, now.arrayBuffers);
  };
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { rssGrowth: peakRss - before.rss, bufferGrowth: peakArrayBuffers - before.arrayBuffers };
    },
  };
}
