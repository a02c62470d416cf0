import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import type { Account, DeliveryRequest, Mailbox, StagedMessage } from "../store/index.js";
import { asAccountId, asMailboxId } from "../store/index.js";
import { deliverLocal, type LocalRecipient } from "./deliver-local.js";

function account(id: number, address: string): Account {
  return { id: asAccountId(id), address, passwordHash: "", quotaBytes: null, usedBytes: 0, pop3: { mode: "keep", markSeen: true, loginDelaySeconds: null, expireDays: null }, createdAt: new Date(0) };
}

function mailbox(id: number, accountId: number, name: string, specialUse: Mailbox["specialUse"]): Mailbox {
  return { id: asMailboxId(id), accountId: asAccountId(accountId), name, specialUse, subscribed: true, uidValidity: 1 as Mailbox["uidValidity"], uidNext: 1 as Mailbox["uidNext"], highestModSeq: 1 as Mailbox["highestModSeq"] };
}

function fakeStore(boxes: Mailbox[]) {
  const calls: DeliveryRequest[] = [];
  return {
    calls,
    async getMailbox(accountId: Account["id"], name: string) {
      return boxes.find((m) => m.accountId === accountId && m.name.toUpperCase() === name.toUpperCase()) ?? null;
    },
    async listMailboxes(accountId: Account["id"]) {
      return boxes.filter((m) => m.accountId === accountId);
    },
    async deliver(request: DeliveryRequest) {
      calls.push(request);
      return { size: 10, copies: [] };
    },
  };
}

const staged = { blobId: "b", size: 10, parsed: {} as StagedMessage["parsed"], open: () => Readable.from([]), discard() {} } as unknown as StagedMessage;

test("three recipients, two ending at one account, make one store call with two targets", async () => {
  const alice = account(1, "alice@example.org");
  const bob = account(2, "bob@example.org");
  const store = fakeStore([mailbox(10, 1, "INBOX", null), mailbox(20, 2, "INBOX", null), mailbox(21, 2, "Spam", "\\Junk")]);
  const recipients: LocalRecipient[] = [
    { account: alice, folder: "inbox", recipient: "alice@example.org" },
    { account: bob, folder: "inbox", recipient: "bob@example.org" },
    { account: alice, folder: "inbox", recipient: "alice+tag@example.org" },
  ];
  await deliverLocal(store, { staged, recipients, prefixFor: (r) => Buffer.from(`X-For: ${r.recipient}\r\n`) });
  assert.equal(store.calls.length, 1);
  const call = store.calls[0]!;
  assert.equal(call.source, staged);
  assert.deepEqual(call.targets.map((t) => [t.mailboxId, t.prefix?.toString()]), [
    [10, "X-For: alice@example.org\r\n"],
    [20, "X-For: bob@example.org\r\n"],
  ]);
});

test("junk goes to the \\Junk special-use mailbox, or INBOX when the account has none", async () => {
  const alice = account(1, "alice@example.org");
  const bob = account(2, "bob@example.org");
  const store = fakeStore([mailbox(10, 1, "INBOX", null), mailbox(20, 2, "INBOX", null), mailbox(21, 2, "Spam", "\\Junk")]);
  await deliverLocal(store, {
    staged,
    recipients: [
      { account: alice, folder: "junk", recipient: "alice@example.org" },
      { account: bob, folder: "junk", recipient: "bob@example.org" },
    ],
    prefixFor: () => Buffer.alloc(0),
  });
  assert.deepEqual(store.calls[0]!.targets.map((t) => t.mailboxId), [10, 21]);
});
