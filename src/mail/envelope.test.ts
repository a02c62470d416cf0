import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MISSING_DOMAIN, MISSING_MAILBOX, parseAddressList, parseEnvelope, type EnvelopeAddress } from "./envelope.js";

const address = (name: string | null, mailbox: string | null, host: string | null, adl: string | null = null): EnvelopeAddress => ({
  name,
  adl,
  mailbox,
  host,
});
const groupEnd = address(null, null, null);

test("envelope fields are raw, unfolded values; Sender and Reply-To default to From", () => {
  const envelope = parseEnvelope(
    [
      "Date: Tue, 04 Mar 2025 10:00:00 +0000",
      "Subject: =?UTF-8?B?w6k=?= and",
      "\tmore",
      "From: Alice <alice@example.org>",
      "To: bob@example.net",
      "Message-ID: <m1@example.org>",
      "In-Reply-To: <m0@example.org>",
      "",
      "Subject: not a header, the body",
    ].join("\r\n"),
  );
  assert.equal(envelope.date, "Tue, 04 Mar 2025 10:00:00 +0000");
  assert.equal(envelope.subject, "=?UTF-8?B?w6k=?= and\tmore");
  assert.deepEqual(envelope.from, [address("Alice", "alice", "example.org")]);
  assert.deepEqual(envelope.sender, envelope.from);
  assert.deepEqual(envelope.replyTo, envelope.from);
  assert.deepEqual(envelope.to, [address(null, "bob", "example.net")]);
  assert.equal(envelope.cc, null);
  assert.equal(envelope.bcc, null);
  assert.equal(envelope.messageId, "<m1@example.org>");
  assert.equal(envelope.inReplyTo, "<m0@example.org>");
});

test("explicit Sender and Reply-To are kept; an empty one falls back to From", () => {
  const envelope = parseEnvelope(Buffer.from("From: a@b\nSender: s@b\nReply-To:  \n\n"));
  assert.deepEqual(envelope.sender, [address(null, "s", "b")]);
  assert.deepEqual(envelope.replyTo, [address(null, "a", "b")]);
});

test("an empty header gives an all-NIL envelope", () => {
  const envelope = parseEnvelope("");
  for (const value of Object.values(envelope)) assert.equal(value, null);
});

test("address lists: display names, quoting, comments, encoded-words kept raw", () => {
  const cases: [string, EnvelopeAddress[]][] = [
    ['"Doe, John" <john@example.com>', [address("Doe, John", "john", "example.com")]],
    ['"say \\"hi\\"" <q@x>', [address('say "hi"', "q", "x")]],
    ["=?UTF-8?Q?Jos=C3=A9?= <jose@example.es>", [address("=?UTF-8?Q?Jos=C3=A9?=", "jose", "example.es")]],
    ["jane@example.com (Jane Doe)", [address("Jane Doe", "jane", "example.com")]],
    ["Jane (work) <jane@example.com>", [address("Jane", "jane", "example.com")]],
    ["a@b, c@d", [address(null, "a", "b"), address(null, "c", "d")]],
    ['"john doe"@example.com', [address(null, '"john doe"', "example.com")]],
    ["user@[192.0.2.1]", [address(null, "user", "[192.0.2.1]")]],
    ["Bob <@relay1,@relay2:bob@example.net>", [address("Bob", "bob", "example.net", "@relay1,@relay2")]],
    ["Zoë <zoë@exämple.de>", [address("Zoë", "zoë", "exämple.de")]],
    ["John Q. Public <jqp@x>", [address("John Q. Public", "jqp", "x")]],
  ];
  for (const [input, expected] of cases) assert.deepEqual(parseAddressList(input), expected, input);
});

test("groups become start and end markers (RFC 9051 §7.5.2)", () => {
  assert.deepEqual(parseAddressList("undisclosed-recipients:;"), [address(null, "undisclosed-recipients", null), groupEnd]);
  assert.deepEqual(parseAddressList("Team: a@b, Carl <c@d>; e@f"), [
    address(null, "Team", null),
    address(null, "a", "b"),
    address("Carl", "c", "d"),
    groupEnd,
    address(null, "e", "f"),
  ]);
  assert.deepEqual(parseAddressList("Open: a@b"), [address(null, "Open", null), address(null, "a", "b"), groupEnd], "unterminated group");
});

test("broken addresses use Dovecot's MISSING_MAILBOX / MISSING_DOMAIN, never a NIL host", () => {
  assert.deepEqual(parseAddressList("root"), [address(null, "root", MISSING_DOMAIN)]);
  assert.deepEqual(parseAddressList("<>"), [address(null, MISSING_MAILBOX, MISSING_DOMAIN)]);
  assert.deepEqual(parseAddressList("John Doe"), [address("John Doe", MISSING_MAILBOX, MISSING_DOMAIN)]);
  assert.deepEqual(parseAddressList("@example.com"), [address(null, MISSING_MAILBOX, "example.com")]);
  assert.deepEqual(parseAddressList("Name <a@b"), [address("Name", "a", "b")], "missing >");
  assert.deepEqual(parseAddressList(", ,"), []);
});

test("property: any header value parses without throwing; only group markers have a NIL host", () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(..."ab @<>,:;.\"()\\[]=?é\t\r\n") , maxLength: 80 }), (value) => {
      let depth = 0;
      for (const entry of parseAddressList(value)) {
        if (entry.host !== null) {
          assert.ok(entry.mailbox !== null && entry.mailbox !== "");
          continue;
        }
        depth += entry.mailbox === null ? -1 : 1;
        assert.ok(depth === 0 || depth === 1, "group markers alternate start, end");
      }
      assert.equal(depth, 0, "every group start has an end");
      parseEnvelope(`From: ${value}\r\nTo: ${value}\r\n\r\n`);
    }),
    { numRuns: 1000 },
  );
});
