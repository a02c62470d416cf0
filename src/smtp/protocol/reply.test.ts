import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeReply, parseReply, ReplyParser, type SmtpReply } from "./reply.js";
import { ReplyCodes, ehloReply, greetingReply, heloReply, reply, replyForSyntaxError, type ReplyCode } from "./reply-codes.js";
import { parseCommand, type SmtpSyntaxError } from "./command.js";

test("single and multi-line replies carry the enhanced code on every line", () => {
  assert.equal(encodeReply(reply(ReplyCodes.Ok)).toString(), "250 2.0.0 Ok\r\n");
  assert.equal(encodeReply({ code: 550, enhanced: "5.1.1", lines: ["No such user", "Try again"] }).toString(), "550-5.1.1 No such user\r\n550 5.1.1 Try again\r\n");
  assert.equal(encodeReply(reply(ReplyCodes.StartMailInput)).toString(), "354 End data with <CR><LF>.<CR><LF>\r\n");
});

test("RFC 4954 §4: an empty challenge is '334 ' with the space", () => {
  assert.equal(encodeReply(reply(ReplyCodes.AuthContinue)).toString(), "334 \r\n");
  assert.equal(encodeReply({ code: 250, enhanced: "2.0.0", lines: [""] }).toString(), "250 2.0.0\r\n");
  assert.equal(encodeReply({ code: 250, enhanced: null, lines: [] }).toString(), "250 \r\n");
});

test("injected CR/LF cannot split a reply", () => {
  const wire = encodeReply(reply(ReplyCodes.MailboxUnavailable, "<x@y>\r\n250 2.0.0 Ok\r\n")).toString();
  assert.equal(wire, "550 5.1.1 <x@y>250 2.0.0 Ok\r\n");
  assert.equal(wire.split("\r\n").length, 2);
});

test("lines are cut to 512 octets including CRLF, at a character boundary", () => {
  const wire = encodeReply({ code: 250, enhanced: "2.0.0", lines: ["é".repeat(400)] });
  assert.ok(wire.length <= 512);
  assert.ok(wire.subarray(0, -2).toString().endsWith("é"));
});

test("a code and enhanced code of different classes, or an out-of-range code, is a bug", () => {
  assert.throws(() => encodeReply({ code: 250, enhanced: "5.0.0", lines: ["x"] }));
  assert.throws(() => encodeReply({ code: 99, enhanced: null, lines: ["x"] }));
});

test("every named reply code is well formed and encodes", () => {
  for (const [name, named] of Object.entries(ReplyCodes) as Array<[string, ReplyCode]>) {
    const wire = encodeReply(reply(named)).toString();
    assert.match(wire, /^[2-5][0-9]{2} /, name);
    if (named.code >= 400 || (named.code >= 200 && named.code < 300)) assert.notEqual(named.enhanced, null, name);
  }
  assert.deepEqual([ReplyCodes.RelayDenied.code, ReplyCodes.RelayDenied.enhanced], [550, "5.7.1"]);
});

test("greeting, EHLO and HELO builders", () => {
  assert.equal(encodeReply(greetingReply("mx.example", "Mailroom")).toString(), "220 mx.example ESMTP Mailroom\r\n");
  assert.equal(
    encodeReply(ehloReply("mx.example", "Hello client.example", ["PIPELINING", "SIZE 1000", "8BITMIME"])).toString(),
    "250-mx.example Hello client.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n",
  );
  assert.equal(encodeReply(ehloReply("mx.example", "", [])).toString(), "250 mx.example\r\n");
  assert.equal(encodeReply(heloReply("mx.example", "hi")).toString(), "250 mx.example hi\r\n");
});

test("the reply parser assembles multi-line replies and extracts the enhanced code", () => {
  const parser = new ReplyParser();
  assert.equal(parser.push("250-mx.example Hello\r\n"), null);
  assert.equal(parser.push("250-SIZE 1000"), null);
  assert.deepEqual(parser.push("250 8BITMIME"), { code: 250, enhanced: null, lines: ["mx.example Hello", "SIZE 1000", "8BITMIME"] });
  assert.deepEqual(parser.push("550-5.1.1 No such"), null);
  assert.deepEqual(parser.push("550 5.1.1 user"), { code: 550, enhanced: "5.1.1", lines: ["No such", "user"] });
  assert.deepEqual(parseReply(["451 4.3.0"]), { code: 451, enhanced: "4.3.0", lines: [""] });
  assert.deepEqual(parseReply(["250"]), { code: 250, enhanced: null, lines: [""] });
  // A class mismatch is not an enhanced code, just text.
  assert.deepEqual(parseReply(["250 5.1.1 odd"]), { code: 250, enhanced: null, lines: ["5.1.1 odd"] });
});

test("malformed replies are typed errors", () => {
  const cases: Array<[string[], string]> = [
    [["25 short"], "malformed-line"],
    [["250x"], "malformed-line"],
    [["650 bad class"], "malformed-line"],
    [["250-a", "251 b"], "code-mismatch"],
    [["250-a"], "malformed-line"],
    [["250 a", "250 b"], "malformed-line"],
  ];
  for (const [lines, reason] of cases) {
    const result = parseReply(lines);
    assert.ok("kind" in result, JSON.stringify(lines));
    assert.equal(result.reason, reason, JSON.stringify(lines));
  }
  const parser = new ReplyParser({ maxLines: 3 });
  parser.push("250-a");
  parser.push("250-b");
  const overflow = parser.push("250-c");
  assert.ok(overflow !== null && "kind" in overflow && overflow.reason === "too-many-lines");
  assert.deepEqual(parser.push("221 2.0.0 Bye"), { code: 221, enhanced: "2.0.0", lines: ["Bye"] }, "the parser resets after an error");
});

const printable = fc.string({ maxLength: 60 }).map((s) => s.replace(/[\x00-\x1f\x7f]/g, "").trim());
const enhancedFor = (code: number): fc.Arbitrary<string | null> =>
  fc.option(fc.tuple(fc.nat({ max: 7 }), fc.nat({ max: 999 })).map(([s, d]) => `${Math.floor(code / 100)}.${s}.${d}`), { nil: null });
const replies: fc.Arbitrary<SmtpReply> = fc.integer({ min: 200, max: 599 }).chain((code) =>
  fc.record({ code: fc.constant(code), enhanced: code < 300 || code >= 400 ? enhancedFor(code) : fc.constant(null), lines: fc.array(printable, { minLength: 1, maxLength: 5 }) }),
);

test("property: encodeReply then parseReply round-trips", () => {
  fc.assert(
    fc.property(replies, (original) => {
      const wireLines = encodeReply(original).toString("utf8").split("\r\n").slice(0, -1);
      const parsed = parseReply(wireLines);
      assert.ok(!("kind" in parsed), JSON.stringify(parsed));
      // Text that itself starts with an enhanced code is only ambiguous without one of our own.
      const ambiguous = original.enhanced === null && /^[245]\.[0-9]{1,3}\.[0-9]{1,3}( |$)/.test(original.lines[0] ?? "");
      if (!ambiguous) assert.deepEqual(parsed, { ...original, lines: [...original.lines] });
    }),
    { numRuns: 1000 },
  );
});

test("property: the parser never throws on arbitrary lines", () => {
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 40 }), { maxLength: 10 }), (lines) => {
      const parser = new ReplyParser();
      for (const line of lines) parser.push(line);
      parseReply(lines);
    }),
  );
});

test("grammar errors map to the RFC 5321 reply classes", () => {
  const replyTo = (line: string): string => {
    const parsed = parseCommand(line);
    assert.equal(parsed.kind, "syntax-error", line);
    const { code, enhanced } = replyForSyntaxError(parsed as SmtpSyntaxError);
    return `${code} ${enhanced}`;
  };
  assert.equal(replyTo("FOO"), "500 5.5.1");
  assert.equal(replyTo("NOOP \u0000"), "500 5.5.2");
  assert.equal(replyTo(`NOOP ${"x".repeat(3000)}`), "500 5.5.2");
  assert.equal(replyTo("MAIL FROM:x"), "501 5.5.4");
  assert.equal(replyTo("MAIL FROM:<a@b..c>"), "501 5.1.7");
  assert.equal(replyTo("RCPT TO:<a@b..c>"), "501 5.1.3");
  assert.equal(replyTo("RCPT TO:<ü@b.example>"), "553 5.6.7");
  assert.equal(replyTo("MAIL FROM:<a@b.example> FOO=1"), "555 5.5.4");
  assert.equal(replyTo("MAIL FROM:<a@b.example> SIZE=x"), "501 5.5.4");
});
