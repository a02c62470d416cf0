// DSN composition: the RFC 3464 form for ASCII mail, the RFC 6533 form (utf-8 address type,
// message/global-delivery-status, message/global or message/global-headers) as soon as the
// message was SMTPUTF8 or an address in the report is not ASCII.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import type { QueuedMessage, QueueRecipient } from "../store/index.js";
import { composeDsn, needsGlobalDsn, utf8AddressUnitext, type DsnRecipient } from "./bounce.js";

function recipient(address: string, originalRecipient: string | null = null): QueueRecipient {
  return { address, notify: null, originalRecipient, state: "failed", attempts: 1, lastResult: null };
}

function entry(changes: Partial<QueuedMessage>): QueuedMessage {
  return {
    id: 7,
    mailFrom: "alice@a.test",
    submittedBy: "alice@a.test",
    blobId: "x".repeat(64) as QueuedMessage["blobId"],
    size: 10,
    envelopeId: null,
    ret: null,
    bodyType: "8BITMIME",
    smtputf8: false,
    createdAt: new Date("2026-01-01T00:00:00Z"),
    nextAttemptAt: new Date("2026-01-01T00:00:00Z"),
    leasedUntil: null,
    delayWarned: false,
    recipients: [],
    ...changes,
  };
}

async function dsnText(queued: QueuedMessage, original: string): Promise<string> {
  const recipients: DsnRecipient[] = queued.recipients.map((r) => ({ recipient: r, action: "failed", status: "5.6.7", diagnostic: "not sent to mx.b.test: non-ASCII address", remoteMta: null }));
  const parts: Buffer[] = [];
  for await (const chunk of composeDsn({ entry: queued, recipients, reportingMta: "mx.a.test", now: new Date("2026-01-02T00:00:00Z"), retryUntil: null, open: () => Readable.from([Buffer.from(original)]) })) parts.push(chunk);
  return Buffer.concat(parts).toString("utf8");
}

test("an ASCII message gets the RFC 3464 form, unchanged", async () => {
  const queued = entry({ recipients: [recipient("bob@b.test", "rfc822;bob@b.test")] });
  assert.equal(needsGlobalDsn(queued), false);
  const text = await dsnText(queued, "Subject: hi\r\n\r\nbody\r\n");
  assert.match(text, /\r\nContent-Type: message\/delivery-status\r\n\r\n/);
  assert.match(text, /\r\nFinal-Recipient: rfc822; bob@b\.test\r\n/);
  assert.match(text, /\r\nOriginal-Recipient: rfc822; bob@b\.test\r\n/);
  assert.match(text, /\r\nContent-Type: text\/rfc822-headers\r\n\r\nSubject: hi\r\n/);
  assert.doesNotMatch(text, /global/);
  assert.doesNotMatch(text, /Remote-MTA/);
  assert.match(text, /\r\nDiagnostic-Code: x-local; not sent to mx\.b\.test: non-ASCII address\r\n/);
});

test("a UTF-8 recipient gets the RFC 6533 form: utf-8 address type, global delivery status and headers", async () => {
  const queued = entry({ smtputf8: true, recipients: [recipient("jörg@bücher.test", "utf-8;jörg@bücher.test"), recipient("bob@b.test")] });
  assert.equal(needsGlobalDsn(queued), true);
  const text = await dsnText(queued, "Subject: Grüße\r\nTo: jörg@bücher.test\r\n\r\nbody\r\n");
  assert.match(text, /\r\nContent-Type: message\/global-delivery-status\r\nContent-Transfer-Encoding: 8bit\r\n\r\n/);
  assert.match(text, /\r\nOriginal-Recipient: utf-8; jörg@bücher\.test\r\nFinal-Recipient: utf-8; jörg@bücher\.test\r\n/);
  // An ASCII recipient keeps the rfc822 type inside the global report.
  assert.match(text, /\r\nFinal-Recipient: rfc822; bob@b\.test\r\n/);
  assert.match(text, /\r\nContent-Type: message\/global-headers\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSubject: Grüße\r\n/);
  assert.doesNotMatch(text, /text\/rfc822-headers|message\/delivery-status/);
  const full = await dsnText({ ...queued, ret: "FULL" }, "Subject: Grüße\r\n\r\nbody\r\n");
  assert.match(full, /\r\nContent-Type: message\/global\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSubject: Grüße\r\n\r\nbody\r\n/);
  // A UTF-8 sender alone is enough.
  assert.equal(needsGlobalDsn(entry({ mailFrom: "jürgen@a.test", recipients: [recipient("bob@b.test")] })), true);
});

test("utf-8-addr-unitext escapes what may not appear raw as \\x{HEX} (RFC 6533 §3)", () => {
  assert.equal(utf8AddressUnitext("jörg@bücher.test"), "jörg@bücher.test");
  assert.equal(utf8AddressUnitext("a+b=c\\d@x.test"), "a\\x{2B}b\\x{3D}c\\x{5C}d@x.test");
  assert.equal(utf8AddressUnitext("\"a b\"@x.test"), "\"a\\x{20}b\"@x.test");
});
