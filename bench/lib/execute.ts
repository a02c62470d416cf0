// Runs the selected workloads against the started targets: per workload, a target that lacks a
// service is skipped with the reason, prepare runs once per target (untimed), then the runs
// alternate between the targets (Mailroom first in even runs, the peer first in odd ones) so drift
// in the machine's state hits both alike. Each run is watched by a peak-RSS sampler of that
// target's process tree. A failure skips that target for the workload; the run goes on.
import type { Target } from "../servers/target.js";
import { missingService, type Workload, type WorkloadContext } from "../workloads/workload.js";
import { PeakRssSampler } from "./process-rss.js";
import { judgeGoal, type MetricResult, type WorkloadMemory } from "./results.js";
import { ratioOf, summarize } from "./stats.js";

interface SideState {
  target: Target;
  skipped: string | null;
  values: Map<string, number[]>;
  peakRssKib: number | null;
  peakProcesses: number | null;
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split("\n")[0]!.slice(0, 240);

export async function executeWorkload(
  workload: Workload,
  mailroom: Target,
  peer: Target | null,
  peerSkipped: string | null,
  ctx: WorkloadContext,
): Promise<{ metrics: MetricResult[]; memory: WorkloadMemory }> {
  const sides: SideState[] = [mailroom, ...(peer ? [peer] : [])].map((target) => ({
    target,
    skipped: (target !== mailroom ? workload.peerSkip : undefined) ?? missingService(workload, target),
    values: new Map(workload.metrics.map((m) => [m.id, []])),
    peakRssKib: null,
    peakProcesses: null,
  }));
  for (const side of sides) {
    if (side.skipped) {
      ctx.say(`  ${side.target.label}: skipped: ${side.skipped}`);
      continue;
    }
    try {
      await workload.prepare?.(side.target, ctx);
    } catch (err) {
      side.skipped = `prepare failed: ${errorText(err)}`;
      ctx.say(`  ${side.target.label}: ${side.skipped}`);
    }
  }
  for (let run = 0; run < ctx.options.runs; run++) {
    const order = run % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      if (side.skipped) continue;
      const sampler = new PeakRssSampler(() => side.target.rootPids()).start();
      try {
        const values = await workload.run(side.target, ctx, run);
        for (const metric of workload.metrics) {
          if (metric.mailroomOnly && side.target !== mailroom) continue;
          const value = values[metric.id];
          if (value === undefined || !Number.isFinite(value)) throw new Error(`no value for ${metric.id}`);
          side.values.get(metric.id)!.push(value);
        }
        ctx.say(`  run ${run + 1}/${ctx.options.runs} ${side.target.label}: ${workload.metrics.filter((m) => values[m.id] !== undefined).map((m) => `${m.id} ${values[m.id]!.toFixed(1)} ${m.unit}`).join(", ")}`);
      } catch (err) {
        side.skipped = `failed in run ${run + 1}: ${errorText(err)}`;
        ctx.say(`  ${side.target.label}: ${side.skipped}`);
      } finally {
        const peak = await sampler.stop();
        if (peak.rssKib > (side.peakRssKib ?? 0)) {
          side.peakRssKib = peak.rssKib;
          side.peakProcesses = peak.processes;
        }
      }
    }
  }
  const mailroomSide = sides[0]!;
  const peerSide = sides[1] ?? null;
  const metrics = workload.metrics.map((spec): MetricResult => {
    const mine = mailroomSide.skipped ? null : summarize(mailroomSide.values.get(spec.id)!);
    const theirs = peerSide && !peerSide.skipped && !spec.mailroomOnly ? summarize(peerSide.values.get(spec.id)!) : null;
    const result: MetricResult = {
      workload: workload.id,
      metric: spec.id,
      title: spec.title,
      unit: spec.unit,
      better: spec.better,
      mailroom: mine,
      peer: theirs,
      ratio: mine && theirs ? ratioOf(mine.median, theirs.median, spec.better) : null,
    };
    if (spec.goal) {
      result.goal = spec.goal;
      result.pass = judgeGoal(result);
    }
    if (mailroomSide.skipped) result.mailroomSkipped = mailroomSide.skipped;
    const theirSkip = peerSide ? (peerSide.skipped ?? spec.mailroomOnly ?? null) : (workload.peerSkip ?? peerSkipped);
    if (theirSkip) result.peerSkipped = theirSkip;
    return result;
  });
  return {
    metrics,
    memory: {
      workload: workload.id,
      // A workload that needs no service of the target (relay) runs its own processes: the
      // target's RSS would be that of an idle server, so none is reported.
      mailroomPeakRssKib: workload.needs.length === 0 ? null : mailroomSide.peakRssKib,
      peerPeakRssKib: peerSide?.peakRssKib ?? null,
      peerProcesses: peerSide?.peakProcesses ?? null,
    },
  };
}
