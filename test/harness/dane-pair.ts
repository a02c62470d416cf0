// An outbound pair (test/harness/outbound-pair.ts) whose A validates through a DNSSEC lab
// (test/harness/dnssec-lab.ts): A's outbound.dnssec_resolver is the lab's unbound, which serves
// a b.test zone (signed unless told otherwise) whose MX "mx.b.test" points at B's port. Used by
// the DANE end-to-end tests (outbound-dane, outbound-dane-requiretls).
import { createMemoryLogger } from "../../src/observability/log.js";
import type { DaneOutcome } from "../../src/queue/index.js";
import { startOutboundPair, type OutboundPair, type OutboundPairOptions } from "./outbound-pair.js";
import { freePort, startDnssecLab, type DnssecLab, type LabZone } from "./dnssec-lab.js";

export interface DaneRun {
  pair: OutboundPair;
  lab: DnssecLab;
  log: ReturnType<typeof createMemoryLogger>;
  /** What A's outbound reported through onDaneOutcome, in order. */
  outcomes: DaneOutcome[];
  stop(): Promise<void>;
}

/**
 * A pair whose A validates through the lab; `records` builds b.test's zone once B's port is
 * known. `options.outboundToml` (a string) is added to A's [outbound] beside dnssec_resolver.
 */
export async function danePair(records: (port: number) => string[], zone: Partial<LabZone> = {}, options: OutboundPairOptions = {}): Promise<DaneRun> {
  const resolverPort = await freePort();
  const log = createMemoryLogger();
  const outcomes: DaneOutcome[] = [];
  const extra = typeof options.outboundToml === "string" ? `${options.outboundToml}\n` : "";
  const pair = await startOutboundPair({
    ...options,
    log,
    outboundToml: `${extra}dnssec_resolver = "127.0.0.1:${resolverPort}"`,
    extras: { ...options.extras, onDaneOutcome: (outcome) => outcomes.push(outcome) },
  });
  let lab: DnssecLab;
  try {
    lab = await startDnssecLab([{ name: "b.test", signed: true, ...zone, records: ["@ IN MX 10 mx.b.test.", "mx IN A 127.0.0.1", ...records(pair.front.port)] }], { resolverPort });
  } catch (error) {
    await pair.stop();
    throw error;
  }
  return {
    pair,
    lab,
    log,
    outcomes,
    async stop() {
      await pair.stop();
      await lab.stop();
    },
  };
}
