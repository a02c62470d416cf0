// Conformance: the outbound queue (QueueStore). Enqueue records the envelope and RFC 3461
// parameters durably; a queued blob outlives garbage sweeps until complete(); leases are exclusive
// until they expire; attempts are recorded per recipient, all or nothing; listing is oldest first.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isStoreError, type EnqueueRequest, type StagedMessage } from "../index.js";
import { type Fixture, type OpenBackend, readAll, using } from "./fixture.js";

const LEASE_MS = 60_000;

function request(message: StagedMessage, overrides: Partial<EnqueueRequest> = {}): EnqueueRequest {
  return {
    message,
    mailFrom: "alice@example.test",
    submittedBy: "alice@example.test",
    recipients: [
      { address: "bob@example.net", notify: ["SUCCESS", "DELAY"], originalRecipient: "rfc822;Bob@example.net" },
      { address: "carol@example.org", notify: null, originalRecipient: null },
    ],
    envelopeId: "QQ314159",
    ret: "HDRS",
    bodyType: "8BITMIME",
    smtputf8: false,
    ...overrides,
  };
}

async function enqueueNew(fx: Fixture, overrides: Partial<EnqueueRequest> = {}) {
  const staged = await fx.mail.stageMessage(fx.message());
  const entry = await fx.queue.enqueue(request(staged, overrides));
  staged.discard();
  return entry;
}

/** Polls briefly: blob files of a completed entry are removed right after its commit. */
async function eventuallyBlobCount(fx: Fixture, expected: number): Promise<void> {
  for (let i = 0; i < 50 && (await fx.blobFileCount()) !== expected; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(await fx.blobFileCount(), expected);
}

export function queueContract(open: OpenBackend): void {
  test("listQueuePage: oldest first in keyset pages; filters on one open recipient's state, address and domain; next attempt bounds", using(open, async (fx) => {
    const rcpt = (address: string) => ({ address, notify: null, originalRecipient: null });
    const a = await enqueueNew(fx, { recipients: [rcpt("x@one.test"), rcpt("y@two.test")] });
    const b = await enqueueNew(fx, { recipients: [rcpt("Z@Two.TEST")] });
    const c = await enqueueNew(fx, { recipients: [rcpt("x@one.test")] });
    const d = await enqueueNew(fx, { recipients: [rcpt("w@under_score.test")] });
    // a: x deferred, y delivered (only x is open); c: held far ahead.
    await fx.queue.recordAttempt(a.id, [{ address: "x@one.test", state: "deferred", reply: "451" }, { address: "y@two.test", state: "delivered", reply: "250" }], new Date(Date.now() + 60_000));
    await fx.queue.recordAttempt(c.id, [], new Date(Date.UTC(9000, 0, 1)));
    const ids = async (query: Parameters<typeof fx.queue.listQueuePage>[0]) => (await fx.queue.listQueuePage(query)).map((e) => e.id);
    assert.deepEqual(await ids({ limit: 10 }), [a.id, b.id, c.id, d.id]);
    const first = await fx.queue.listQueuePage({ limit: 2 });
    assert.deepEqual(first.map((e) => e.id), [a.id, b.id]);
    assert.deepEqual(await ids({ limit: 2, after: { createdAt: first[1]!.createdAt, id: first[1]!.id } }), [c.id, d.id]);
    assert.deepEqual(await ids({ limit: 10, state: "deferred" }), [a.id]);
    assert.deepEqual(await ids({ limit: 10, state: "pending" }), [b.id, c.id, d.id]);
    assert.deepEqual(await ids({ limit: 10, domain: "two.test" }), [b.id], "a's recipient in two.test is delivered, not open; case-insensitive");
    assert.deepEqual(await ids({ limit: 10, domain: "one.test", state: "pending" }), [c.id], "state and domain hold for the same recipient");
    assert.deepEqual(await ids({ limit: 10, to: "z@two.test" }), [b.id]);
    assert.deepEqual(await ids({ limit: 10, domain: "under_score.test" }), [d.id]);
    assert.deepEqual(await ids({ limit: 10, domain: "underXscore.test" }), [], "_ is literal");
    assert.deepEqual(await ids({ limit: 10, domain: "ne.test" }), [], "a whole domain, not a suffix of one");
    assert.deepEqual(await ids({ limit: 10, nextAttemptFrom: new Date(Date.UTC(9000, 0, 1)) }), [c.id]);
    assert.deepEqual(await ids({ limit: 10, nextAttemptBefore: new Date(Date.UTC(9000, 0, 1)) }), [a.id, b.id, d.id]);
    await assert.rejects(fx.queue.listQueuePage({ limit: 0 }), (e: unknown) => isStoreError(e, "INVALID"));
  }));

  test("enqueue records envelope, recipients and trace prefix, and survives reopening", using(open, async (fx) => {
    const bytes = fx.message("queued");
    const staged = await fx.mail.stageMessage(bytes);
    const prefix = Buffer.from("Received: from client by mx.example.test; Mon, 1 Jan 2024 00:00:00 +0000\r\n");
    const before = Date.now();
    const entry = await fx.queue.enqueue(request(staged, { prefix, smtputf8: true, requireTls: true }));
    staged.discard();
    // RFC 8689: the REQUIRETLS tag travels with the entry (and reads back after reopening below).
    assert.equal(entry.requireTls, true);
    assert.equal((await enqueueNew(fx)).requireTls, false, "REQUIRETLS absent is false");
    assert.equal(entry.mailFrom, "alice@example.test");
    assert.equal(entry.submittedBy, "alice@example.test");
    assert.equal(entry.blobId, staged.blobId);
    assert.equal(entry.size, prefix.length + bytes.length);
    assert.deepEqual([entry.envelopeId, entry.ret, entry.bodyType, entry.smtputf8], ["QQ314159", "HDRS", "8BITMIME", true]);
    assert.ok(entry.createdAt.getTime() >= before - 1000 && entry.createdAt.getTime() <= Date.now() + 1000);
    assert.equal(entry.nextAttemptAt.getTime(), entry.createdAt.getTime(), "due at once");
    assert.equal(entry.leasedUntil, null);
    assert.deepEqual(entry.recipients, [
      { address: "bob@example.net", notify: ["SUCCESS", "DELAY"], originalRecipient: "rfc822;Bob@example.net", state: "pending", attempts: 0, lastResult: null },
      { address: "carol@example.org", notify: null, originalRecipient: null, state: "pending", attempts: 0, lastResult: null },
    ]);
    assert.deepEqual(await fx.queue.getQueued(entry.id), entry);
    assert.deepEqual(await readAll(fx.queue.openQueued(entry)), Buffer.concat([prefix, bytes]));
    if (fx.canReopen) {
      await fx.reopen();
      assert.deepEqual(await fx.queue.getQueued(entry.id), entry);
      assert.deepEqual(await readAll(fx.queue.openQueued(entry)), Buffer.concat([prefix, bytes]));
    }
    assert.equal(await fx.queue.getQueued(entry.id + 1000), null);
  }));

  test("a queued-only blob survives garbage sweeps and goes after complete()", using(open, async (fx) => {
    const entry = await enqueueNew(fx);
    if (await fx.collectGarbage()) {
      const blobs = fx.blobFileCount();
      if (blobs) assert.equal(await blobs, 1, "the hold keeps the blob");
      assert.equal((await readAll(fx.queue.openQueued(entry))).length, entry.size);
    }
    if (fx.canReopen) await fx.reopen();
    await fx.queue.recordAttempt(entry.id, [
      { address: "bob@example.net", state: "delivered", reply: "250 2.0.0 ok" },
      { address: "carol@example.org", state: "failed", reply: "550 5.1.1 no such user" },
    ], new Date());
    await fx.queue.complete(entry.id);
    assert.equal(await fx.queue.getQueued(entry.id), null);
    await assert.rejects(readAll(fx.queue.openQueued(entry)), (e) => isStoreError(e, "NONEXISTENT"));
    await assert.rejects(fx.queue.complete(entry.id), (e) => isStoreError(e, "NONEXISTENT"));
    if (fx.blobFileCount()) await eventuallyBlobCount(fx, 0);
  }));

  test("complete() keeps a blob that a mailbox still holds", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const bytes = fx.message("also delivered locally");
    const staged = await fx.mail.stageMessage(bytes);
    const entry = await fx.queue.enqueue(request(staged, { recipients: [{ address: "x@example.net", notify: null, originalRecipient: null }] }));
    const { copies } = await fx.mail.deliver({ source: staged, targets: [{ mailboxId: inbox.id }] });
    staged.discard();
    await fx.queue.recordAttempt(entry.id, [{ address: "x@example.net", state: "delivered" }], new Date());
    await fx.queue.complete(entry.id);
    await fx.collectGarbage();
    const [stored] = await fx.mail.getMessages(inbox.id, [copies[0]!.uid]);
    assert.deepEqual(await readAll(fx.mail.openMessage(stored!)), bytes);
    const blobs = fx.blobFileCount();
    if (blobs) assert.equal(await blobs, 1);
  }));

  test("two leases at the same time never return the same entry; an expired lease is taken again", using(open, async (fx) => {
    const entries = [];
    for (let i = 0; i < 6; i++) entries.push(await enqueueNew(fx));
    const now = new Date(Date.now() + 1000);
    const [first, second] = await Promise.all([fx.queue.leaseDue(now, 4, LEASE_MS), fx.queue.leaseDue(now, 4, LEASE_MS)]);
    const firstIds = first.map((e) => e.id);
    const secondIds = second.map((e) => e.id);
    assert.equal(firstIds.length + secondIds.length, 6, "every due entry leased exactly once");
    assert.deepEqual([...firstIds, ...secondIds].sort((a, b) => a - b), entries.map((e) => e.id).sort((a, b) => a - b));
    assert.deepEqual(first.map((e) => e.leasedUntil?.getTime()), firstIds.map(() => now.getTime() + LEASE_MS));
    assert.deepEqual(await fx.queue.leaseDue(new Date(now.getTime() + LEASE_MS - 1), 10, LEASE_MS), [], "still leased");
    // The workers died: after the lease ends, every entry can be leased again (once).
    const later = new Date(now.getTime() + LEASE_MS);
    const again = await fx.queue.leaseDue(later, 10, LEASE_MS);
    assert.equal(again.length, 6);
    assert.deepEqual(await fx.queue.leaseDue(later, 10, LEASE_MS), []);
  }));

  test("leaseDue takes only due entries, oldest due first, up to the limit", using(open, async (fx) => {
    const a = await enqueueNew(fx);
    const b = await enqueueNew(fx);
    const c = await enqueueNew(fx);
    const now = new Date(Date.now() + 1000);
    const [leasedA] = await fx.queue.leaseDue(now, 1, LEASE_MS);
    assert.equal(leasedA?.id, a.id);
    // a is retried in an hour; b and c are due now.
    await fx.queue.recordAttempt(a.id, [{ address: "bob@example.net", state: "deferred", reply: "451 4.7.1 try later" }], new Date(now.getTime() + 3_600_000));
    assert.deepEqual((await fx.queue.leaseDue(now, 10, LEASE_MS)).map((e) => e.id), [b.id, c.id]);
    assert.deepEqual(await fx.queue.leaseDue(new Date(now.getTime() + LEASE_MS), 10, LEASE_MS).then((l) => l.map((e) => e.id)), [b.id, c.id]);
    // Ordered by due time: a became due last.
    assert.deepEqual((await fx.queue.leaseDue(new Date(now.getTime() + 3_600_000), 10, LEASE_MS)).map((e) => e.id), [b.id, c.id, a.id]);
    await assert.rejects(fx.queue.leaseDue(now, 0, LEASE_MS), (e) => isStoreError(e, "INVALID"));
  }));

  test("attempts are recorded per recipient, all or nothing, and end the lease", using(open, async (fx) => {
    const entry = await enqueueNew(fx);
    const now = new Date(Date.now() + 1000);
    await fx.queue.leaseDue(now, 1, LEASE_MS);
    const retry = new Date(now.getTime() + 900_000);
    const after = await fx.queue.recordAttempt(entry.id, [
      { address: "bob@example.net", state: "deferred", reply: "421 4.4.2 timeout" },
      { address: "carol@example.org", state: "failed", reply: "550 5.1.1 no such user" },
    ], retry);
    assert.deepEqual(after.recipients.map((r) => [r.address, r.state, r.attempts, r.lastResult]), [
      ["bob@example.net", "deferred", 1, "421 4.4.2 timeout"],
      ["carol@example.org", "failed", 1, "550 5.1.1 no such user"],
    ]);
    assert.equal(after.nextAttemptAt.getTime(), retry.getTime());
    assert.equal(after.leasedUntil, null);
    await assert.rejects(fx.queue.complete(entry.id), (e) => isStoreError(e, "CANNOT"), "bob is still deferred");
    // One bad result refuses the whole call: bob's result is not applied either.
    await assert.rejects(fx.queue.recordAttempt(entry.id, [
      { address: "bob@example.net", state: "delivered" },
      { address: "carol@example.org", state: "deferred", reply: "451 again" },
    ], retry), (e) => isStoreError(e, "CANNOT"));
    await assert.rejects(fx.queue.recordAttempt(entry.id, [{ address: "dave@example.com", state: "delivered" }], retry), (e) => isStoreError(e, "INVALID"));
    await assert.rejects(fx.queue.recordAttempt(entry.id, [{ address: "bob@example.net", state: "failed" } as never], retry), (e) => isStoreError(e, "INVALID"));
    await assert.rejects(fx.queue.recordAttempt(entry.id + 1000, [], retry), (e) => isStoreError(e, "NONEXISTENT"));
    assert.deepEqual((await fx.queue.getQueued(entry.id))?.recipients.map((r) => [r.state, r.attempts]), [["deferred", 1], ["failed", 1]]);
    const done = await fx.queue.recordAttempt(entry.id, [{ address: "bob@example.net", state: "delivered", reply: "250 2.0.0 queued as 1234" }], retry);
    assert.deepEqual(done.recipients.map((r) => [r.state, r.attempts]), [["delivered", 2], ["failed", 1]]);
    assert.deepEqual(await fx.queue.listQueue(), [], "a finished entry is no longer listed");
    assert.deepEqual(await fx.queue.leaseDue(new Date(retry.getTime() + 1), 10, LEASE_MS), [], "nor leased");
    await fx.queue.complete(entry.id);
  }));

  test("listQueue lists entries with work left, oldest first, up to the limit", using(open, async (fx) => {
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await enqueueNew(fx)).id);
    assert.deepEqual((await fx.queue.listQueue()).map((e) => e.id), ids);
    assert.deepEqual((await fx.queue.listQueue(2)).map((e) => e.id), ids.slice(0, 2));
    const concurrent = await Promise.all(Array.from({ length: 20 }, () => enqueueNew(fx)));
    assert.equal(new Set(concurrent.map((e) => e.id)).size, 20, "concurrent enqueues get distinct entries");
    assert.equal((await fx.queue.listQueue()).length, 24);
    assert.equal(await fx.queue.countQueue(), 24, "countQueue counts every entry with work left, past any page");
    await fx.queue.recordAttempt(ids[0]!, [{ address: "bob@example.net", state: "delivered" }, { address: "carol@example.org", state: "failed", reply: "550 no" }], new Date());
    assert.equal(await fx.queue.countQueue(), 23, "an entry without open recipients is not counted");
  }));

  test("the delay warning mark is recorded once and kept; finished entries are listed until completed", using(open, async (fx) => {
    const entry = await enqueueNew(fx);
    assert.equal(entry.delayWarned, false);
    const later = new Date(Date.now() + 60_000);
    const warned = await fx.queue.recordAttempt(entry.id, [{ address: "bob@example.net", state: "deferred", reply: "451 4.4.1 no answer" }], later, { delayWarned: true });
    assert.equal(warned.delayWarned, true);
    const still = await fx.queue.recordAttempt(entry.id, [], later);
    assert.equal(still.delayWarned, true, "a later attempt without the option does not unset it");
    assert.deepEqual(await fx.queue.listFinished(), []);
    await fx.queue.recordAttempt(entry.id, [
      { address: "bob@example.net", state: "delivered" },
      { address: "carol@example.org", state: "failed", reply: "550 5.1.1 no such user" },
    ], later);
    const open = await enqueueNew(fx);
    assert.deepEqual((await fx.queue.listFinished()).map((e) => e.id), [entry.id]);
    assert.deepEqual((await fx.queue.listQueue()).map((e) => e.id), [open.id]);
    assert.equal(await fx.queue.countQueue(), 1, "countQueue counts what listQueue lists: a finished entry is not counted");
    await fx.queue.complete(entry.id);
    assert.deepEqual(await fx.queue.listFinished(), []);
  }));

  test("a malformed request is refused with INVALID and queues nothing", using(open, async (fx) => {
    const staged = await fx.mail.stageMessage(fx.message());
    const one = (notify: EnqueueRequest["recipients"][number]["notify"]) => [{ address: "bob@example.net", notify, originalRecipient: null }];
    const bad: Partial<EnqueueRequest>[] = [
      { recipients: [] },
      { recipients: [...one(null), ...one(null)] },
      { recipients: one(["NEVER", "SUCCESS"]) },
      { recipients: one([]) },
      { recipients: [{ address: "bob@example.net\r\nRCPT TO:<x@y>", notify: null, originalRecipient: null }] },
      { ret: "ALL" as never },
      { bodyType: "9BIT" as never },
      { prefix: Buffer.from("Received: no line end") },
    ];
    for (const overrides of bad) {
      await assert.rejects(fx.queue.enqueue(request(staged, overrides)), (e) => isStoreError(e, "INVALID"), JSON.stringify(overrides));
    }
    assert.deepEqual(await fx.queue.listQueue(), []);
    assert.equal(await fx.queue.countQueue(), 0);
    staged.discard();
  }));
}
