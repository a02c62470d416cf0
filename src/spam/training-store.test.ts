// Which copies and moves train what, against a real SQLite store: into Junk is spam, out of Junk is
// ham unless it goes to Trash, between other folders nothing; the move itself is unchanged; a
// full training queue refuses rather than grow.
import { test } from "node:test";
import assert from "node:assert/strict";
import { silentLogger } from "../observability/log.js";
import { withScratchStore } from "../store/sqlite/scratch-store.js";
import type { AccountId, MailboxId } from "../store/index.js";
import { createSpamTrainer } from "./trainer.js";
import { withSpamTraining } from "./training-store.js";

const message = (n: number) => Buffer.from(`From: x@y.test\r\nSubject: message ${n}\r\n\r\ncheap pills winner number ${n}\r\n`);

test("training follows Junk: in is spam, out is ham, to Trash or elsewhere is nothing", () =>
  withScratchStore(async (store, _dir, inboxId) => {
    const inbox = inboxId as MailboxId;
    const account = (await store.getMailboxById(inbox))!.accountId as AccountId;
    const junk = (await store.listMailboxes(account)).find((m) => m.specialUse === "\\Junk")!.id;
    const trash = (await store.listMailboxes(account)).find((m) => m.specialUse === "\\Trash")!.id;
    const archive = (await store.listMailboxes(account)).find((m) => m.specialUse === "\\Archive")!.id;
    const trainer = createSpamTrainer({ mail: store, tokens: store, log: silentLogger });
    const mail = withSpamTraining(store, trainer);
    const totals = async () => {
      await trainer.idle();
      const counts = await store.readSpamTokens(account, []);
      return [counts.spamMessages, counts.hamMessages];
    };
    const uids = [];
    for (let i = 0; i < 4; i++) uids.push((await store.append(inbox, message(i))).uid);

    await mail.moveMessages(inbox, [uids[0]!], archive);
    assert.deepEqual(await totals(), [0, 0], "INBOX to Archive trains nothing");
    const moved = await mail.moveMessages(inbox, [uids[1]!, uids[2]!], junk);
    assert.equal(moved.pairs.length, 2, "the move itself answers as the store does");
    assert.deepEqual(await totals(), [2, 0]);
    await mail.copyMessages(inbox, [uids[3]!], junk);
    assert.deepEqual(await totals(), [3, 0], "a copy into Junk trains too");
    await mail.moveMessages(junk, [moved.pairs[0]![1]], trash);
    assert.deepEqual(await totals(), [3, 0], "deleting junk says nothing about it");
    await mail.moveMessages(junk, [moved.pairs[1]![1]], inbox);
    assert.deepEqual(await totals(), [2, 1], "out of Junk: the spam training is taken back, ham counted");
    assert.equal((await mail.listMailboxes(account)).length, 6, "every other method passes through");
  }));

test("a full training queue refuses new work instead of growing", () =>
  withScratchStore(async (store, _dir, inbox) => {
    const trainer = createSpamTrainer({ mail: store, tokens: store, log: silentLogger, maxPending: 3 });
    const job = (n: number) => ({ accountId: 1 as AccountId, mailboxId: inbox as MailboxId, uids: Array.from({ length: n }, (_, i) => i + 1) as never[], kind: "spam" as const });
    assert.equal(trainer.enqueue(job(4)), false);
    assert.equal(trainer.enqueue(job(2)), true);
    await trainer.idle();
    assert.equal(trainer.pending, 0);
  }));
