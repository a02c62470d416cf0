// RFC 5092 IMAP message URLs as CATENATE takes them (imap-url.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseImapMessageUrl } from "./imap-url.js";

test("absolute and relative message URLs with UIDVALIDITY, SECTION and PARTIAL", () => {
  assert.deepEqual(parseImapMessageUrl("imap://joe@example.com@mail.example.com:143/INBOX;UIDVALIDITY=385759045/;UID=20/;SECTION=1.2/;PARTIAL=0.1024"), {
    user: "joe@example.com",
    host: "mail.example.com:143",
    mailbox: "INBOX",
    uidValidity: 385759045,
    uid: 20,
    section: "1.2",
    partial: { offset: 0, length: 1024 },
  });
  assert.deepEqual(parseImapMessageUrl("/Drafts/;uid=7"), { user: null, host: null, mailbox: "Drafts", uidValidity: null, uid: 7, section: null, partial: null });
  assert.equal(parseImapMessageUrl("imap://joe;AUTH=*@host/a%20b/;UID=1")?.mailbox, "a b");
  assert.equal(parseImapMessageUrl("/Sent%20Items/;UID=1/;SECTION=HEADER.FIELDS%20(From)")?.section, "HEADER.FIELDS (From)");
  assert.equal(parseImapMessageUrl("/%C3%A9t%C3%A9/;UID=1")?.mailbox, "été");
  assert.equal(parseImapMessageUrl("/&AOk-t&AOk-/;UID=1")?.mailbox, "été");
  assert.deepEqual(parseImapMessageUrl("/INBOX/;UID=1/;PARTIAL=5")?.partial, { offset: 5, length: null });
});

test("anything else is null", () => {
  for (const url of [
    "",
    "INBOX/;UID=1",
    "http://host/INBOX/;UID=1",
    "imap:///INBOX/;UID=1",
    "/INBOX",
    "/INBOX/;UID=0",
    "/INBOX/;UID=4294967296",
    "/INBOX;UIDVALIDITY=0/;UID=1",
    "/INBOX/;UID=1;URLAUTH=anonymous:internal:00",
    "/INBOX/;UID=1/;EXPIRE=2026-01-01T00:00:00Z",
    "/INBOX/;UID=1/;SECTION=",
    "/INBOX/;UID=1/;PARTIAL=1.0",
    "/INBOX/;UID=1/extra",
    "/IN%ZZBOX/;UID=1",
    "/IN BOX/;UID=1",
    "/;UID=1",
    `/${"a".repeat(9000)}/;UID=1`,
  ]) assert.equal(parseImapMessageUrl(url), null, url);
});
