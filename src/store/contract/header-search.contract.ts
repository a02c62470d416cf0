// Conformance of MailStore.findHeaderMatches, which SEARCH SUBJECT/FROM/TO/CC/BCC/HEADER stand on
// (RFC 9051 §6.4.4): substrings of decoded values, case-insensitive after mail/case-fold.ts; an
// absent field matches nothing, HEADER with the empty string matches every message with the field;
// HEADER sees the per-recipient trace prefix; copies, expunge and other mailboxes behave.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { HeaderSearchField } from "../index.js";
import { using, type OpenBackend } from "./fixture.js";

const RICH = Buffer.from(
  [
    "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=",
    'From: "=?ISO-8859-1?Q?Jos=E9_Garc=EDa?=" <jose@example.es>',
    "To: undisclosed: ;",
    "Cc: Carol <carol@example.net>, dave@example.net",
    "X-Mailer: =?UTF-8?B?U3RyYcOfZQ==?= Mailer",
    "X-Empty:",
    "",
    "body text only",
    "",
  ].join("\r\n"),
);
const PLAIN = Buffer.from("From: bob@example.org\r\nTo: alice@example.test\r\n\r\nno subject, no cc\r\n");

export function headerSearchContract(open: OpenBackend): void {
  test("findHeaderMatches: decoded, folded substrings per field; absent fields match nothing", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const rich = await fx.append(inbox.id, [], RICH);
    const plain = await fx.append(inbox.id, [], PLAIN);
    const find = (field: HeaderSearchField, needle: string): Promise<number[]> => fx.mail.findHeaderMatches(inbox.id, field, needle);
    const subject = { kind: "subject" } as const;
    const address = (field: "from" | "to" | "cc" | "bcc") => ({ kind: "address", field }) as const;
    const header = (name: string) => ({ kind: "header", name }) as const;
    assert.deepEqual(await find(subject, "GRÜSSE aus"), [rich.uid], "encoded-word decoded, ß folded to ss");
    assert.deepEqual(await find(subject, ""), [rich.uid], "the empty string: every message with a Subject");
    assert.deepEqual(await find(subject, "body"), [], "the body is not the subject");
    assert.deepEqual(await find(address("from"), "josé garcía <jose@"), [rich.uid], "name and address as `Name <local@domain>`");
    assert.deepEqual(await find(address("from"), "EXAMPLE"), [rich.uid, plain.uid]);
    assert.deepEqual(await find(address("to"), "undisclosed:"), [rich.uid], "a group name");
    assert.deepEqual(await find(address("cc"), "carol <carol@example.net>, <dave@"), [rich.uid]);
    assert.deepEqual(await find(address("cc"), ""), [rich.uid], "no Cc field: not even the empty string");
    assert.deepEqual(await find(address("bcc"), ""), []);
    assert.deepEqual(await find(header("x-mailer"), "strasse mail"), [rich.uid], "HEADER decodes and folds too");
    assert.deepEqual(await find(header("X-EMPTY"), ""), [rich.uid], "an empty field is present");
    assert.deepEqual(await find(header("x-empty"), "a"), []);
    assert.deepEqual(await find(header("To"), "alice@"), [plain.uid]);
    assert.deepEqual(await find(header("Subject"), ""), [rich.uid]);
    assert.deepEqual(await find(header("X-Nowhere"), ""), []);
    assert.deepEqual(await find(header("Cc"), 'carol" <'), [], "quotes in the string are matched literally");
    assert.deepEqual(await find(header("From"), '"josé garcía" <'), [rich.uid], "a quote in the decoded value");
  }));

  test("findHeaderMatches: HEADER sees the trace prefix; copies, expunge and other mailboxes", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const other = await fx.mail.createMailbox(id, "Other");
    const prefix = Buffer.from("Return-Path: <bounce@example.net>\r\nReceived: from relay.example.net by mx.example.test\r\n");
    const delivered = await fx.mail.deliver({ source: PLAIN, targets: [{ mailboxId: inbox.id, prefix }, { mailboxId: other.id }] });
    const [traced, bare] = delivered.copies;
    const header = (name: string) => ({ kind: "header", name }) as const;
    assert.deepEqual(await fx.mail.findHeaderMatches(inbox.id, header("received"), "RELAY.example"), [traced!.uid]);
    assert.deepEqual(await fx.mail.findHeaderMatches(inbox.id, header("Return-Path"), ""), [traced!.uid]);
    assert.deepEqual(await fx.mail.findHeaderMatches(other.id, header("received"), ""), [], "the other copy has no prefix");
    assert.deepEqual(await fx.mail.findHeaderMatches(other.id, header("from"), "bob"), [bare!.uid]);
    const copied = await fx.mail.copyMessages(inbox.id, [traced!.uid], other.id);
    assert.deepEqual(await fx.mail.findHeaderMatches(other.id, header("from"), "bob"), [bare!.uid, copied.pairs[0]![1]].sort((a, b) => a - b));
    await fx.mail.removeMessages(inbox.id, [traced!.uid]);
    assert.deepEqual(await fx.mail.findHeaderMatches(inbox.id, header("from"), ""), []);
    assert.deepEqual(await fx.mail.findHeaderMatches(inbox.id, { kind: "subject" }, ""), []);
    assert.equal((await fx.mail.findHeaderMatches(other.id, { kind: "address", field: "from" }, "BOB@")).length, 2, "the copies keep their data");
  }));

  test("findHeaderMatches: a scan over many messages crosses its pages", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const expected: number[] = [];
    const staged = [];
    for (let i = 0; i < 4500; i++) staged.push({ source: await fx.mail.stageMessage(Buffer.from(`Subject: n${i}${i % 997 === 0 ? " marked" : ""}\r\n\r\nx${i}\r\n`)) });
    const copies = await fx.mail.appendStaged(inbox.id, staged);
    copies.forEach((copy, i) => i % 997 === 0 && expected.push(copy.uid));
    assert.deepEqual(await fx.mail.findHeaderMatches(inbox.id, { kind: "subject" }, "MARKED"), expected);
    assert.equal((await fx.mail.findHeaderMatches(inbox.id, { kind: "header", name: "subject" }, "")).length, 4500);
  }));
}
