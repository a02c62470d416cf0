// Outbound relay throughput: 1,000 queued 5 KB messages from a.test delivered to b.test over
// loopback by the outbound workers, 10 at a time (10 connections to B's MX). Each message is
// DKIM-signed twice on A (Ed25519 and RSA) and verified on B (SPF, DKIM, DMARC, table DNS), as in
// production. Prints messages/s from the first lease to the last completion; with --json, one
// JSON line instead (what the `relay` workload of `npm run bench` reads).
//   npm run build && node dist/bench/outbound-relay.js [messages=1000] [connections=10] [--json]
import { inboxTexts, startOutboundPair } from "../test/harness/outbound-pair.js";

const json = process.argv.includes("--json");
const positional = process.argv.slice(2).filter((a) => a !== "--json");
const total = Number(positional[0] ?? 1000);
const connections = Number(positional[1] ?? 10);

function message(serial: number): Buffer {
  const header = `From: alice@a.test\r\nTo: bob@b.test\r\nSubject: relay ${serial}\r\nMessage-ID: <${serial}.${process.pid}@a.test>\r\nDate: ${new Date().toUTCString()}\r\n\r\n`;
  const body = "The quick brown fox jumps over the lazy dog, again and again and again.\r\n".repeat(70);
  return Buffer.from(header + body);
}

const pair = await startOutboundPair({ concurrency: connections, perDestination: connections });
try {
  await pair.worker.stop();
  const store = pair.a.temp.store;
  for (let i = 0; i < total; i++) {
    const staged = await store.stageMessage(message(i));
    await store.enqueue({ message: staged, mailFrom: "alice@a.test", submittedBy: "alice@a.test", recipients: [{ address: "bob@b.test", notify: null, originalRecipient: null }], envelopeId: null, ret: null, bodyType: "7BIT", smtputf8: false });
  }
  let completed = 0;
  let failed = 0;
  const done = new Promise<void>((resolve) => {
    pair.worker.onAttempt = (report) => {
      if (report.outcomes.some((o) => o.state !== "delivered")) failed++;
      if (report.completed && ++completed === total) resolve();
    };
  });
  const started = performance.now();
  await pair.worker.start();
  await done;
  const seconds = (performance.now() - started) / 1000;
  const received = (await inboxTexts(pair.b)).length;
  if (json) console.log(JSON.stringify({ messages: total, connections, seconds, perSecond: total / seconds, received, failed }));
  else console.log(`outbound relay: ${total} messages over ${connections} connections in ${seconds.toFixed(2)} s = ${(total / seconds).toFixed(0)} messages/s (received by B: ${received}, attempts not delivered: ${failed})`);
} finally {
  await pair.stop();
}
