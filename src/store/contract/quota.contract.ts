// Conformance: RFC 9208 quota as the store keeps it (store/quota.ts): the MESSAGE limit refuses
// deliveries, appends and copies all or nothing; both usage counters follow every mutation that
// adds or removes messages (deliver, append, copy, move, expunge, POP3-style removal, mailbox and
// account deletion) and agree with what is stored; per-account limits (null: the default, 0:
// unlimited); the usage warning is claimed once and re-armed when usage drops below it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isStoreError, type Account, type AccountId } from "../index.js";
import { type Fixture, type OpenBackend, using } from "./fixture.js";

async function usage(fx: Fixture, id: AccountId): Promise<{ bytes: number; messages: number }> {
  const account = (await fx.accounts.getAccount(id)) as Account;
  return { bytes: account.usedBytes, messages: account.usedMessages ?? -1 };
}

/** What is really stored for the account, summed over its mailboxes. */
async function stored(fx: Fixture, id: AccountId): Promise<{ bytes: number; messages: number }> {
  let bytes = 0;
  let messages = 0;
  for (const mailbox of await fx.mail.listMailboxes(id)) {
    const status = await fx.mail.mailboxStatus(mailbox.id);
    bytes += status.size;
    messages += status.messages;
  }
  return { bytes, messages };
}

export function quotaContract(open: OpenBackend): void {
  test("quota: per-account limits, null follows the default, 0 is unlimited", using(open, async (fx) => {
    const alice = await fx.account("alice");
    assert.equal(alice.quotaMessages ?? null, null);
    assert.deepEqual(alice.quotaSetting, { storageBytes: null, messages: null });
    const set = await fx.accounts.setQuotaLimits(alice.address, { storageBytes: 5000, messages: 3 });
    assert.equal(set.quotaBytes, 5000);
    assert.equal(set.quotaMessages, 3);
    const onlyMessages = await fx.accounts.setQuotaLimits(alice.address, { messages: 0 });
    assert.equal(onlyMessages.quotaBytes, 5000, "an absent limit is left as it was");
    assert.equal(onlyMessages.quotaMessages, null, "0 is unlimited");
    assert.deepEqual(onlyMessages.quotaSetting, { storageBytes: 5000, messages: 0 });
    const back = await fx.accounts.setQuotaLimits(alice.address, { storageBytes: null });
    assert.equal(back.quotaBytes, null, "null follows the (here unlimited) default");
    await assert.rejects(fx.accounts.setQuotaLimits(alice.address, { messages: -1 }), (e) => isStoreError(e, "INVALID"));
    await assert.rejects(fx.accounts.setQuotaLimits("nobody@example.test", { messages: 1 }), (e) => isStoreError(e, "NONEXISTENT"));
  }));

  test("quota: the MESSAGE limit refuses deliver, append and copy all or nothing", using(open, async (fx) => {
    const alice = await fx.account("alice");
    await fx.accounts.setQuotaLimits(alice.address, { messages: 3 });
    const inbox = await fx.mailbox(alice.id);
    const archive = await fx.mailbox(alice.id, "Archive");
    await fx.append(inbox.id);
    await fx.append(inbox.id);
    // Two copies of one delivery where one fits: none is stored.
    await assert.rejects(fx.mail.deliver({ source: fx.message(), targets: [{ mailboxId: inbox.id }, { mailboxId: archive.id }] }), (e) => isStoreError(e, "OVERQUOTA"));
    const staged = [await fx.mail.stageMessage(fx.message()), await fx.mail.stageMessage(fx.message())];
    await assert.rejects(fx.mail.appendStaged(inbox.id, staged.map((source) => ({ source }))), (e) => isStoreError(e, "OVERQUOTA"));
    for (const s of staged) s.discard();
    await assert.rejects(fx.mail.copyMessages(inbox.id, [1, 2] as never, archive.id), (e) => isStoreError(e, "OVERQUOTA"));
    assert.deepEqual(await usage(fx, alice.id), await stored(fx, alice.id));
    assert.equal((await usage(fx, alice.id)).messages, 2);
    await fx.mail.copyMessages(inbox.id, [1] as never, archive.id);
    assert.equal((await usage(fx, alice.id)).messages, 3);
    // MOVE within the account does not change usage, so it works when full.
    await fx.mail.moveMessages(inbox.id, [2] as never, archive.id);
    assert.deepEqual(await usage(fx, alice.id), await stored(fx, alice.id));
    await assert.rejects(fx.append(inbox.id), (e) => isStoreError(e, "OVERQUOTA"));
  }));

  test("quota: both counters follow expunge, removal, mailbox deletion, and free space at once", using(open, async (fx) => {
    const alice = await fx.account("alice");
    const bob = await fx.account("bob");
    const inbox = await fx.mailbox(alice.id);
    await fx.mail.createMailbox(alice.id, "Projects");
    const projects = await fx.mailbox(alice.id, "Projects");
    await fx.mail.deliver({ source: fx.message(), targets: [{ mailboxId: inbox.id }, { mailboxId: projects.id }, { mailboxId: (await fx.mailbox(bob.id)).id }] });
    await fx.append(inbox.id, ["\\Deleted"]);
    await fx.append(projects.id);
    assert.deepEqual(await usage(fx, alice.id), await stored(fx, alice.id));
    assert.equal((await usage(fx, alice.id)).messages, 4);
    assert.equal((await usage(fx, bob.id)).messages, 1);
    await fx.mail.expungeDeleted(inbox.id);
    assert.deepEqual(await usage(fx, alice.id), await stored(fx, alice.id));
    assert.equal((await usage(fx, alice.id)).messages, 3);
    await fx.mail.removeMessages(inbox.id, [1] as never);
    assert.equal((await usage(fx, alice.id)).messages, 2);
    await fx.mail.deleteMailbox(alice.id, "Projects");
    assert.deepEqual(await usage(fx, alice.id), { bytes: 0, messages: 0 });
    assert.equal((await usage(fx, bob.id)).messages, 1, "another account's counters are untouched");
    // Full, then freed: the next message fits at once.
    await fx.accounts.setQuotaLimits(alice.address, { messages: 1 });
    await fx.append(inbox.id, ["\\Deleted"]);
    await assert.rejects(fx.append(inbox.id), (e) => isStoreError(e, "OVERQUOTA"));
    await fx.mail.expungeDeleted(inbox.id);
    await fx.append(inbox.id);
  }));

  test("quota: the usage warning is claimed once, and again only after usage dropped below the threshold", using(open, async (fx) => {
    const alice = await fx.account("alice");
    await fx.accounts.setQuotaLimits(alice.address, { messages: 10 });
    const inbox = await fx.mailbox(alice.id);
    for (let i = 0; i < 8; i++) await fx.append(inbox.id, ["\\Deleted"]);
    assert.equal(await fx.accounts.claimQuotaWarning(alice.id), null, "80% is below the 90% default");
    await fx.append(inbox.id);
    const claimed = await fx.accounts.claimQuotaWarning(alice.id);
    assert.equal(claimed?.usedMessages, 9);
    assert.equal(await fx.accounts.claimQuotaWarning(alice.id), null, "claimed once");
    await fx.append(inbox.id);
    assert.equal(await fx.accounts.claimQuotaWarning(alice.id), null, "still above: not again");
    await fx.mail.expungeDeleted(inbox.id);
    for (let i = 0; i < 7; i++) await fx.append(inbox.id);
    assert.ok(await fx.accounts.claimQuotaWarning(alice.id), "dropped below, crossed again: claimed again");
    // A raised limit re-arms it too.
    await fx.accounts.setQuotaLimits(alice.address, { messages: 100 });
    await fx.accounts.setQuotaLimits(alice.address, { messages: 10 });
    assert.ok(await fx.accounts.claimQuotaWarning(alice.id));
    const unlimited = await fx.account("bob");
    for (let i = 0; i < 3; i++) await fx.append((await fx.mailbox(unlimited.id)).id);
    assert.equal(await fx.accounts.claimQuotaWarning(unlimited.id), null, "no limit, no warning");
  }));
}
