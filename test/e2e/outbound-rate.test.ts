// outbound.per_destination_rate end to end (issue #6): A sends a burst to b.test with a limit of
// 120 messages a minute (one every 500 ms); B receives them spread out, while mail for c.test
// (same MX host, another recipient domain, so its own budget) goes at once. Held-back messages
// are not attempted: every entry gives exactly one attempt report, and nothing is deferred.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AttemptReport } from "../../src/queue/index.js";
import { cheapHash } from "../harness/temp-store.js";
import { startOutboundPair } from "../harness/outbound-pair.js";

const INTERVAL_MS = 500;

test("a burst to one domain is spread at the configured rate; another domain is not slowed", async () => {
  const pair = await startOutboundPair({
    outboundToml: `per_destination_rate = ${60_000 / INTERVAL_MS}`,
    dns: { "c.test": { MX: [{ exchange: "mx.b.test", priority: 10 }] } },
  });
  try {
    assert.equal(pair.config.outbound.perDestinationRate, 120);
    await pair.b.temp.store.addDomain("c.test");
    await pair.b.temp.store.createAccount({ address: "carol@c.test", passwordHash: await cheapHash("carol-pass") });
    await pair.worker.stop();
    const store = pair.a.temp.store;
    const enqueue = async (subject: string, to: string[]) => {
      const staged = await store.stageMessage(Buffer.from(`From: alice@a.test\r\nTo: ${to.join(", ")}\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@a.test>\r\n\r\nrate test\r\n`));
      return (await store.enqueue({ message: staged, mailFrom: "alice@a.test", submittedBy: "alice@a.test", recipients: to.map((address) => ({ address, notify: null, originalRecipient: null })), envelopeId: null, ret: null, bodyType: "7BIT", smtputf8: false })).id;
    };
    // Six for b.test first, so c.test's messages are behind them in the queue.
    for (let i = 1; i <= 6; i++) await enqueue(`b${i}`, ["bob@b.test"]);
    const c = await enqueue("c1", ["carol@c.test"]);
    const mixed = await enqueue("mixed", ["carol@c.test", "bob@b.test"]);

    const seen: { at: number; report: AttemptReport }[] = [];
    const all = new Promise<void>((resolve) => {
      pair.worker.onAttempt = (report) => {
        seen.push({ at: performance.now(), report });
        if (seen.reduce((n, s) => n + s.report.outcomes.length, 0) === 9) resolve();
      };
    });
    const started = performance.now();
    await pair.worker.start();
    await all;

    for (const { report } of seen) for (const o of report.outcomes) assert.equal(o.state, "delivered", `${o.address}: ${o.diagnostic}`);
    const toB = seen.filter((s) => s.report.outcomes.some((o) => o.address === "bob@b.test")).map((s) => s.at - started);
    const toC = seen.filter((s) => s.report.outcomes.some((o) => o.address === "carol@c.test")).map((s) => s.at - started);
    assert.equal(toB.length, 7, "one attempt per message for b.test: held-back ones were not attempted");
    assert.equal(toC.length, 2);
    // Seven messages to b.test at one every 500 ms: the seventh slot starts 6 intervals after the
    // first lease (itself after \`started\`), and a report comes at the end of its attempt. (Ends of
    // attempts, not their starts, are what is seen here, so the gaps between them jitter.)
    assert.ok(Math.max(...toB) >= 6 * INTERVAL_MS, `b.test spread: ${toB.map(Math.round).join(", ")} ms`);
    assert.ok(toB.filter((at) => at < 2 * INTERVAL_MS).length <= 2, `b.test spread: ${toB.map(Math.round).join(", ")} ms`);
    // c.test takes its own slots: its first goes at once, the second (the mixed entry) one interval later.
    assert.ok(Math.min(...toC) < INTERVAL_MS, `c.test at ${toC.map(Math.round).join(", ")} ms`);
    assert.ok(Math.max(...toC) < 2 * INTERVAL_MS + 400, `c.test at ${toC.map(Math.round).join(", ")} ms`);
    // The mixed entry was delivered in two attempts: carol at once, bob at his slot.
    const mixedReports = seen.filter((s) => s.report.id === mixed).map((s) => s.report.outcomes.map((o) => o.address));
    assert.deepEqual(mixedReports, [["carol@c.test"], ["bob@b.test"]]);
    assert.ok(seen.some((s) => s.report.id === c));
    assert.deepEqual(await store.listQueue(), []);
  } finally {
    await pair.stop();
  }
});
