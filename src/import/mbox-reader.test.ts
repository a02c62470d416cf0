// mbox reading: separators and their dates, mboxrd unescaping, Content-Length bodies (mboxcl2)
// with "From " lines inside, a wrong Content-Length not swallowing the next message, status
// flags, size limits, and any chunking of the input giving the same messages.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { readMbox, separatorDate, statusFlags, type MboxMessage } from "./mbox-reader.js";

async function read(text: string | Buffer, chunk = 1 << 20, maxMessageBytes = 1 << 20) {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) chunks.push(bytes.subarray(i, i + chunk));
  const out = [];
  for await (const item of readMbox((async function* () { yield* chunks; })(), { maxMessageBytes })) out.push(item);
  return out;
}

const MBOXRD = [
  "From alice@example.net Tue Dec  1 10:00:00 2026",
  "From: alice@example.net",
  "Subject: one",
  "Status: RO",
  "X-Status: AF",
  "X-Keywords: $Label1 work",
  "",
  "Hello",
  ">From the start",
  ">>From twice",
  "",
  "From bob@example.net Wed Dec  2 11:30:15 2026",
  "From: bob@example.net",
  "Subject: two",
  "",
  "Bye",
  "",
].join("\n");

test("mboxrd: separators, dates, unescaping, flags, CRLF", async () => {
  const messages = (await read(MBOXRD)) as MboxMessage[];
  assert.equal(messages.length, 2);
  // The status fields are the mbox's bookkeeping: read into flags, not kept in the message.
  assert.equal(messages[0]!.bytes.toString(), "From: alice@example.net\r\nSubject: one\r\n\r\nHello\r\nFrom the start\r\n>From twice\r\n");
  assert.deepEqual(messages[0]!.internalDate, new Date("2026-12-01T10:00:00Z"));
  assert.deepEqual(messages[0]!.flags.sort(), ["$Label1", "\\Answered", "\\Flagged", "\\Seen", "work"].sort());
  assert.equal(messages[1]!.bytes.toString(), "From: bob@example.net\r\nSubject: two\r\n\r\nBye\r\n");
  assert.deepEqual(messages[1]!.flags, []);
});

test("mboxcl2: a Content-Length body keeps its From lines; a wrong one does not swallow the next message", async () => {
  const body = "line\nFrom inside the body\nend\n";
  const cl2 = `From a@x.test Tue Dec  1 10:00:00 2026\nSubject: cl\nContent-Length: ${body.length}\n\n${body}\nFrom b@x.test Tue Dec  1 10:00:01 2026\nSubject: next\n\nx\n`;
  const messages = (await read(cl2)) as MboxMessage[];
  assert.equal(messages.length, 2);
  assert.match(messages[0]!.bytes.toString(), /\r\nFrom inside the body\r\nend\r\n/);
  const lying = `From a@x.test Tue Dec  1 10:00:00 2026\nSubject: cl\nContent-Length: 99999\n\nshort\n\nFrom b@x.test Tue Dec  1 10:00:01 2026\nSubject: next\n\nx\n`;
  const split = (await read(lying)) as MboxMessage[];
  assert.equal(split.length, 2, "a full separator after a blank line ends the message");
  assert.match(split[1]!.bytes.toString(), /^Subject: next/);
});

test("separator dates: asctime with or without a zone; nonsense gives null", () => {
  assert.deepEqual(separatorDate("From a@b Tue Dec  1 10:00:00 2026"), new Date("2026-12-01T10:00:00Z"));
  assert.deepEqual(separatorDate("From a@b Tue Dec 1 10:00:00 +0100 2026"), new Date("2026-12-01T09:00:00Z"));
  assert.deepEqual(separatorDate("From MAILER-DAEMON Fri Jul  8 12:08 2011"), new Date("2011-07-08T12:08:00Z"));
  assert.equal(separatorDate("From nobody"), null);
  assert.deepEqual(statusFlags("Status: O\nX-Status: T\n"), ["\\Draft"]);
});

test("a message over the limit is skipped and reported; the next one is read", async () => {
  const big = `From a@x Tue Dec  1 10:00:00 2026\nSubject: big\n\n${"x".repeat(5000)}\nFrom b@x Tue Dec  1 10:00:00 2026\nSubject: small\n\nok\n`;
  const items = await read(big, 1 << 20, 1000);
  assert.equal(items.length, 2);
  assert.deepEqual(items[0], { skipped: true, index: 1, reason: "larger than 1000 octets" });
  assert.match((items[1] as MboxMessage).bytes.toString(), /Subject: small/);
});

test("a file cut mid-line: the complete messages, and the last one reported, not stored broken; text before the first separator is ignored", async () => {
  const items = await read("garbage line\n\nFrom a@x Tue Dec  1 10:00:00 2026\nSubject: whole\n\nall here\n\nFrom a@x Tue Dec  1 10:00:01 2026\nSubject: cut\n\npartial li");
  assert.equal(items.length, 2);
  assert.equal((items[0] as MboxMessage).bytes.toString(), "Subject: whole\r\n\r\nall here\r\n");
  assert.deepEqual(items[1], { skipped: true, index: 2, reason: "the file ends mid-line: this message looks truncated, not imported (import the complete file again to add it)" });
});

test("any chunking of the input gives the same messages", async () => {
  const whole = (await read(MBOXRD)) as MboxMessage[];
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 64 }), async (size) => {
      const parts = (await read(MBOXRD, size)) as MboxMessage[];
      assert.deepEqual(parts.map((m) => m.bytes.toString()), whole.map((m) => m.bytes.toString()));
    }),
    { numRuns: 64 },
  );
});
