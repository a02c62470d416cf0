// outbound.per_destination_rate end to end (issue #6), in test time: A's workers run on a manual
// clock (test/harness/manual-timers.ts), so what is asserted is when each delivery is allowed by
// the rate, not how fast this machine happens to be. A sends a burst to b.test with a limit of
// 120 messages a minute (one every 500 ms); mail for c.test (same MX host, another recipient
// domain, so its own budget) is not slowed by it. Deliveries are real SMTP to B. Held-back
// messages are not attempted: every entry gives exactly one attempt report per domain.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AttemptReport } from "../../src/queue/index.js";
import { cheapHash } from "../harness/temp-store.js";
import { ManualTimers } from "../harness/manual-timers.js";
import { startOutboundPair } from "../harness/outbound-pair.js";

const INTERVAL_MS = 500;

test("a burst to one domain is spread at the configured rate; another domain is not slowed (test clock)", async () => {
  const timers = new ManualTimers();
  // The test clock starts when the test says so (after the enqueues, whose times are real).
  let epoch = Date.now();
  const pair = await startOutboundPair({
    outboundToml: `per_destination_rate = ${60_000 / INTERVAL_MS}`,
    dns: { "c.test": { MX: [{ exchange: "mx.b.test", priority: 10 }] } },
    extras: { clock: () => new Date(epoch + timers.now), timers },
  });
  try {
    assert.equal(pair.config.outbound.perDestinationRate, 120);
    await pair.b.temp.store.addDomain("c.test");
    await pair.b.temp.store.createAccount({ address: "carol@c.test", passwordHash: await cheapHash("carol-pass") });
    await pair.worker.stop();
    const store = pair.a.temp.store;
    const subjects = new Map<number, string>();
    const enqueue = async (subject: string, to: string[]) => {
      const staged = await store.stageMessage(Buffer.from(`From: alice@a.test\r\nTo: ${to.join(", ")}\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@a.test>\r\n\r\nrate test\r\n`));
      const { id } = await store.enqueue({ message: staged, mailFrom: "alice@a.test", submittedBy: "alice@a.test", recipients: to.map((address) => ({ address, notify: null, originalRecipient: null })), envelopeId: null, ret: null, bodyType: "7BIT", smtputf8: false });
      subjects.set(id, subject);
    };
    // Six for b.test first, so c.test's messages are behind them in the queue.
    for (let i = 1; i <= 6; i++) await enqueue(`b${i}`, ["bob@b.test"]);
    await enqueue("c1", ["carol@c.test"]);
    await enqueue("mixed", ["carol@c.test", "bob@b.test"]);

    // "<test ms> <subject> <recipient>" for every delivered recipient, in order.
    const delivered: string[] = [];
    const reports: AttemptReport[] = [];
    pair.worker.onAttempt = (report) => {
      reports.push(report);
      for (const o of report.outcomes) {
        assert.equal(o.state, "delivered", `${o.address}: ${o.diagnostic}`);
        delivered.push(`${timers.now} ${subjects.get(report.id)} ${o.address}`);
      }
    };
    epoch = Date.now();
    await pair.worker.start();
    await pair.worker.idle();
    // At once: the first message of each domain. The mixed entry's c.test slot is the second.
    assert.deepEqual(delivered.sort(), ["0 b1 bob@b.test", "0 c1 carol@c.test"]);
    const expected = [
      ["500 b2 bob@b.test", "500 mixed carol@c.test"],
      ["1000 b3 bob@b.test"],
      ["1500 b4 bob@b.test"],
      ["2000 b5 bob@b.test"],
      ["2500 b6 bob@b.test"],
      // Seven messages to b.test at one every 500 ms: the seventh slot is 6 intervals after the first.
      ["3000 mixed bob@b.test"],
    ];
    for (const step of expected) {
      // Not a millisecond sooner than its slot...
      const before = delivered.length;
      timers.advance(INTERVAL_MS - 1);
      await pair.worker.idle();
      assert.deepEqual(delivered.slice(before), [], `nothing before ${step[0]}`);
      // ...and at it.
      timers.advance(1);
      await pair.worker.idle();
      assert.deepEqual(delivered.slice(before).sort(), step);
    }
    // One report per attempt: held-back entries were not attempted (nor counted as attempts).
    assert.equal(reports.length, 9);
    assert.deepEqual(reports.filter((r) => subjects.get(r.id) === "mixed").map((r) => r.outcomes.map((o) => o.address)), [["carol@c.test"], ["bob@b.test"]]);
    for (const entry of reports) assert.ok(entry.outcomes.length === 1);
    assert.deepEqual(await store.listQueue(), []);
  } finally {
    await pair.stop();
  }
});
