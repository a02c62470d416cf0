// NotifyState (RFC 5465): which mailboxes a filter covers, the first matching group deciding,
// changes of other mailboxes coalesced into one STATUS each with fresh figures, LIST responses
// for mailbox and subscription changes, nothing about the selected mailbox, and NONE.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AccountId, ChangeBatch, Mailbox, MailboxId, MailboxStatus, MailStore, ModSeq, Uid, UidValidity } from "../../store/index.js";
import { ArgumentReader } from "../protocol/arguments.js";
import { readNotify } from "../protocol/notify.js";
import { encodeValue } from "../protocol/response.js";
import type { ImapValue } from "../protocol/response-value.js";
import { matches, NotifyState } from "./notify.js";

const ACCOUNT = 1 as AccountId;
const mailboxes = [
  { id: 1, name: "INBOX" },
  { id: 2, name: "Lists/a" },
  { id: 3, name: "Other" },
].map((m) => ({ ...m, id: m.id as MailboxId }) as Mailbox);
const counts = new Map<number, number>([[1, 1], [2, 5], [3, 0]]);
const store = {
  listMailboxes: async () => mailboxes,
  listSubscriptions: async () => ["Other"],
  mailboxStatus: async (id: MailboxId): Promise<MailboxStatus> => ({ messages: counts.get(id) ?? 0, unseen: 0, deleted: 0, size: 0, uidNext: 10 as Uid, uidValidity: 7 as UidValidity, highestModSeq: 99 as ModSeq }),
} as unknown as MailStore;
const ctx = { store, accountId: ACCOUNT, encode: (name: string) => name };
const request = (line: string) => readNotify(ArgumentReader.ofLine(line), false);
const text = (responses: ImapValue[][]) => responses.map((r) => `* ${r.map((v) => encodeValue(v).toString("latin1")).join(" ")}\r\n`).join("");
const batch = (changes: ChangeBatch["changes"]): ChangeBatch => ({ accountId: ACCOUNT, changes });

test("filters: inboxes, personal, subscribed, subtree, mailboxes, selected", () => {
  const subscribed = new Set(["Other"]);
  assert.equal(matches({ kind: "inboxes" }, "INBOX", false, subscribed), true);
  assert.equal(matches({ kind: "inboxes" }, "Other", false, subscribed), false);
  assert.equal(matches({ kind: "personal" }, "Other", false, subscribed), true);
  assert.equal(matches({ kind: "subscribed" }, "Other", false, subscribed), true);
  assert.equal(matches({ kind: "subtree", names: ["Lists"] }, "Lists/a", false, subscribed), true);
  assert.equal(matches({ kind: "subtree", names: ["Lists"] }, "Listsx", false, subscribed), false);
  assert.equal(matches({ kind: "mailboxes", names: ["Lists"] }, "Lists/a", false, subscribed), false);
  assert.equal(matches({ kind: "selected" }, "INBOX", true, subscribed), true);
});

test("SET STATUS: the current figures of each covered mailbox, items per event", async () => {
  const state = new NotifyState();
  const out = await state.set(request("SET STATUS (inboxes (MessageNew MessageExpunge)) (subtree Lists (MessageExpunge)) (personal NONE)"), ctx, null);
  assert.equal(text(out), '* STATUS "INBOX" (MESSAGES 1 UIDNEXT 10 UIDVALIDITY 7)\r\n* STATUS "Lists/a" (MESSAGES 5)\r\n');
});

test("changes: one STATUS per mailbox with the union of items; the selected mailbox and uncovered ones stay quiet", async () => {
  const state = new NotifyState();
  await state.set(request("SET (mailboxes Other NONE) (personal (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange MailboxMetadataChange))"), ctx, 1 as MailboxId);
  state.onBatch(batch([
    { kind: "added", mailboxId: 2 as MailboxId, uid: 9 as Uid, modseq: 5 as ModSeq },
    { kind: "flags", mailboxId: 2 as MailboxId, uid: 9 as Uid, modseq: 6 as ModSeq, flags: [] },
    { kind: "added", mailboxId: 1 as MailboxId, uid: 2 as Uid, modseq: 5 as ModSeq },
    { kind: "added", mailboxId: 3 as MailboxId, uid: 2 as Uid, modseq: 5 as ModSeq },
    { kind: "mailbox-created", mailboxId: 4 as MailboxId, name: "New" },
    { kind: "mailbox-renamed", mailboxId: 4 as MailboxId, oldName: "New", name: "Newer" },
    { kind: "subscription", name: "Newer", subscribed: true },
    { kind: "mailbox-deleted", mailboxId: 4 as MailboxId, name: "Newer" },
    { kind: "metadata", mailboxId: 2 as MailboxId, name: "/shared/comment" },
    { kind: "metadata", mailboxId: 2 as MailboxId, name: "/shared/comment" },
    { kind: "metadata", mailboxId: 3 as MailboxId, name: "/private/x" },
  ]), 1 as MailboxId);
  assert.equal(state.pending, true);
  assert.equal(
    text(await state.drain(ctx)),
    '* STATUS "Lists/a" (MESSAGES 5 UIDNEXT 10 UIDVALIDITY 7 HIGHESTMODSEQ 99)\r\n* LIST () "/" "New"\r\n* LIST () "/" "Newer" ("OLDNAME" ("New"))\r\n* LIST (\\Subscribed) "/" "Newer"\r\n* LIST (\\NonExistent) "/" "Newer"\r\n* METADATA "Lists/a" /shared/comment\r\n',
  );
  assert.equal(state.pending, false);
  await state.set(request("NONE"), ctx, null);
  state.onBatch(batch([{ kind: "added", mailboxId: 2 as MailboxId, uid: 10 as Uid, modseq: 7 as ModSeq }]), null);
  assert.equal(state.pending, false);
  assert.equal(state.active, false);
  // reset() (UNAUTHENTICATE) drops groups and whatever is pending.
  await state.set(request("SET (personal (MessageNew MessageExpunge))"), ctx, null);
  state.onBatch(batch([{ kind: "added", mailboxId: 2 as MailboxId, uid: 11 as Uid, modseq: 8 as ModSeq }]), null);
  assert.equal(state.pending, true);
  state.reset();
  assert.equal(state.pending, false);
  assert.equal(state.active, false);
});
