// The workloads of `npm run bench`, in order, with their full and --quick sizes. Quick sizes keep
// each workload under a minute on a small CI machine; full sizes are the ones issue #7 names.
import type { BenchOptions } from "../lib/args.js";
import { idleFanout } from "./idle-fanout.js";
import { imapAppend } from "./imap-append.js";
import { imapMailbox } from "./imap-mailbox.js";
import { importMbox } from "./import-mbox.js";
import { pop3Drain } from "./pop3-drain.js";
import { relay } from "./relay.js";
import { bigMessage, serverIdle, smtpLoadLatency } from "./server-health.js";
import { sieveDelivery } from "./sieve-delivery.js";
import { smtpDelivery } from "./smtp-delivery.js";
import type { Workload } from "./workload.js";

export function catalog(options: BenchOptions): Workload[] {
  const { quick, seed, runs } = options;
  const workloads: Workload[] = [];
  // First, while the servers have done nothing yet.
  workloads.push(serverIdle());
  for (const kib of [5, 100]) {
    for (const clients of [1, 10]) {
      const messages = quick ? (kib === 5 ? 100 : 30) : kib === 5 ? 1_000 : 200;
      workloads.push(smtpDelivery({ kib, clients, messages, seed }));
    }
  }
  workloads.push(pop3Drain({ messages: quick ? 200 : 1_000, seed, runs }));
  workloads.push(pop3Drain({ messages: quick ? 10 : 100, seed, runs, bytes: 1024 * 1024 }));
  workloads.push(imapAppend({ messages: quick ? 200 : 1_000, seed }));
  if (quick) workloads.push(imapMailbox({ messages: 1_000, seed }));
  else {
    workloads.push(imapMailbox({ messages: 10_000, seed }));
    workloads.push(imapMailbox({ messages: 100_000, seed }));
    workloads.push(imapMailbox({ messages: 100_000, seed, corpus: "small" }));
  }
  // Opt-in (named exactly in --only): the 1,000,000-message INBOX takes long to build on both sides.
  workloads.push({ ...imapMailbox({ messages: 1_000_000, seed, corpus: "small", big: true }), optIn: true });
  workloads.push(smtpLoadLatency({ messages: quick ? 150 : 2_000, clients: 10 }));
  workloads.push(bigMessage({ megabytes: quick ? 5 : 25, runs }));
  workloads.push(idleFanout({ connections: quick ? 500 : 10_000, seed }));
  workloads.push(relay({ messages: quick ? 200 : 1_000, connections: 10 }));
  workloads.push(sieveDelivery({ messages: quick ? 100 : 1_000, clients: 10, seed }));
  // Opt-in (named exactly in --only): writes and imports a 1 GB mbox (issue 21's figure).
  workloads.push(importMbox({ megabytes: 1024 }));
  return workloads;
}

/** --only takes ids or prefixes: "smtp" selects all four SMTP workloads; an opt-in workload only by its exact id. */
export function selectWorkloads(all: Workload[], only: string[] | null): Workload[] {
  if (!only) return all.filter((w) => !w.optIn);
  const chosen = all.filter((w) => only.some((o) => w.id === o || (!w.optIn && w.id.startsWith(o))));
  if (chosen.length === 0) throw new Error(`--only ${only.join(",")} matches no workload; there are: ${all.map((w) => w.id).join(", ")}`);
  return chosen;
}
