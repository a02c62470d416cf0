import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseCommand, type CommandOptions, type SmtpCommand, type SmtpSyntaxError } from "./command.js";

function ok(line: string | Buffer, options: CommandOptions = {}): SmtpCommand {
  const result = parseCommand(line, options);
  assert.notEqual(result.kind, "syntax-error", `${String(line)}: ${JSON.stringify(result)}`);
  return result as SmtpCommand;
}

function refused(line: string | Buffer, options: CommandOptions = {}): SmtpSyntaxError {
  const result = parseCommand(line, options);
  assert.equal(result.kind, "syntax-error", `${String(line)} should be refused`);
  return result as SmtpSyntaxError;
}

test("verbs are case-insensitive and argument-less commands refuse arguments", () => {
  for (const verb of ["DATA", "rset", "Quit", "STARTTLS"]) assert.equal(ok(verb).kind, verb.toUpperCase());
  assert.equal(ok("QUIT\r\n").kind, "QUIT");
  assert.equal(ok("DATA  ").kind, "DATA", "trailing spaces are tolerated");
  assert.equal(refused("DATA now").reason, "syntax");
  assert.equal(refused("STARTTLS x").verb, "STARTTLS");
  const unknown = refused("XYZZY foo");
  assert.equal(unknown.reason, "unrecognized");
  assert.equal(unknown.verb, null);
  assert.equal(refused("").reason, "unrecognized");
  assert.equal(refused("GET / HTTP/1.1").reason, "unrecognized");
});

test("control characters, bare line endings and bad UTF-8 are refused", () => {
  for (const line of ["NOOP a\u0000b", "NOOP\ta", "MAIL FROM:<a@b.example>\n", "NOOP \r", "NOOP a\rb", "NOOP \u007f"]) {
    assert.equal(refused(line).reason, "control-character", JSON.stringify(line));
  }
  assert.equal(refused(Buffer.from([0x4e, 0x4f, 0x4f, 0x50, 0x20, 0xff])).reason, "invalid-utf8");
  assert.equal(ok(Buffer.from("NOOP h\u00e9\r\n", "utf8")).kind, "NOOP");
});

test("HELO and EHLO: one argument, classified as domain, literal or nonconforming", () => {
  const ehlo = ok("EHLO Mail.Example.ORG");
  assert.ok(ehlo.kind === "EHLO");
  assert.equal(ehlo.identity, "Mail.Example.ORG");
  assert.equal(ehlo.domain?.ascii, "mail.example.org");
  const literal = ok("ehlo [192.0.2.1]");
  assert.ok(literal.kind === "EHLO" && literal.domain?.literal?.kind === "ipv4");
  const bare = ok("HELO 192.0.2.1");
  assert.ok(bare.kind === "HELO" && bare.domain === null && bare.identity === "192.0.2.1");
  assert.equal(refused("EHLO").reason, "syntax");
  assert.equal(refused("EHLO a b").reason, "syntax");
});

test("MAIL FROM: paths, the null sender, and the tolerated space after the colon", () => {
  const mail = ok("MAIL FROM:<Alice@Example.ORG>");
  assert.ok(mail.kind === "MAIL" && mail.reversePath.kind === "mailbox");
  assert.equal(mail.reversePath.address, "Alice@example.org");
  assert.deepEqual(mail.parameters, { size: null, body: null, smtputf8: false, ret: null, envid: null, auth: null, requireTls: false });
  const bounce = ok("mail from:<>");
  assert.ok(bounce.kind === "MAIL" && bounce.reversePath.kind === "null");
  const spaced = ok("MAIL FROM:   <a@b.example> SIZE=10");
  assert.ok(spaced.kind === "MAIL" && spaced.parameters.size === 10);
  assert.equal(ok('MAIL FROM:<"a> b"@c.example>').kind, "MAIL");
  for (const bad of ["MAIL", "MAIL FROM:", "MAIL FROM:a@b.example", "MAIL TO:<a@b.example>", "MAIL FROM <a@b.example>", "MAIL FROM:<a@b.example>SIZE=1", "MAIL FROM:<a@b.example"]) {
    assert.equal(refused(bad).reason, "syntax", bad);
  }
  const address = refused("MAIL FROM:<a@-b.example>");
  assert.equal(address.reason, "address");
  assert.equal(address.address?.reason, "domain");
});

test("MAIL parameters are typed", () => {
  const mail = ok("MAIL FROM:<a@b.example> size=1048576 BODY=8bitmime RET=HDRS ENVID=QQ+2Bid SMTPUTF8 AUTH=user+40b.example");
  assert.ok(mail.kind === "MAIL");
  const { size, body, smtputf8, ret, envid, auth } = mail.parameters;
  assert.deepEqual({ size, body, smtputf8, ret, envid }, { size: 1048576, body: "8BITMIME", smtputf8: true, ret: "HDRS", envid: "QQ+id" });
  assert.ok(auth?.kind === "mailbox" && auth.mailbox.address === "user@b.example");
  const nullAuth = ok("MAIL FROM:<a@b.example> AUTH=<>");
  assert.ok(nullAuth.kind === "MAIL" && nullAuth.parameters.auth?.kind === "null");
  assert.equal(ok("MAIL FROM:<a@b.example> BODY=BINARYMIME").kind, "MAIL");
});

test("MAIL parameter errors: unknown, duplicate, malformed, overflowing", () => {
  const cases: Array<[string, string]> = [
    ["MAIL FROM:<a@b.example> FOO=bar", "parameter-unrecognized"],
    ["MAIL FROM:<a@b.example> NOTIFY=NEVER", "parameter-unrecognized"],
    ["MAIL FROM:<a@b.example> XFLAG", "parameter-unrecognized"],
    ["MAIL FROM:<a@b.example> SIZE=1 SIZE=2", "parameter-duplicate"],
    ["MAIL FROM:<a@b.example> SIZE=99999999999999999999", "parameter-invalid"],
    ["MAIL FROM:<a@b.example> SIZE=1e30", "parameter-invalid"],
    ["MAIL FROM:<a@b.example> SIZE=-1", "parameter-invalid"],
    ["MAIL FROM:<a@b.example> SIZE", "parameter-syntax"],
    ["MAIL FROM:<a@b.example> SIZE=", "parameter-syntax"],
    ["MAIL FROM:<a@b.example> BODY=9BIT", "parameter-invalid"],
    ["MAIL FROM:<a@b.example> RET=ALL", "parameter-invalid"],
    ["MAIL FROM:<a@b.example> SMTPUTF8=yes", "parameter-invalid"],
    ["MAIL FROM:<a@b.example> ENVID=a+zz", "parameter-invalid"],
    [`MAIL FROM:<a@b.example> ENVID=${"x".repeat(101)}`, "parameter-invalid"],
    ["MAIL FROM:<a@b.example> AUTH=not-an-address", "parameter-invalid"],
    ["MAIL FROM:<a@b.example> -X=1", "parameter-syntax"],
    ["MAIL FROM:<a@b.example> SIZE=1=2", "parameter-syntax"],
  ];
  for (const [line, reason] of cases) assert.equal(refused(line).reason, reason, line);
  assert.equal(refused("MAIL FROM:<a@b.example> FOO=bar").keyword, "FOO");
});

test("SMTPUTF8: MAIL's own parameter permits a UTF-8 reverse-path; RCPT follows the option", () => {
  assert.equal(refused("MAIL FROM:<jö@b.example>").address?.reason, "utf8-not-permitted");
  const mail = ok("MAIL FROM:<jö@bücher.example> SMTPUTF8");
  assert.ok(mail.kind === "MAIL" && mail.reversePath.kind === "mailbox" && mail.reversePath.domain === "xn--bcher-kva.example");
  assert.equal(refused("RCPT TO:<ö@b.example>").address?.reason, "utf8-not-permitted");
  assert.equal(ok("RCPT TO:<ö@b.example>", { smtputf8: true }).kind, "RCPT");
});

test("RCPT TO: paths, Postmaster, source routes and DSN parameters", () => {
  const postmaster = ok("RCPT TO:<postmaster>");
  assert.ok(postmaster.kind === "RCPT" && postmaster.forwardPath.kind === "postmaster");
  const routed = ok("RCPT TO:<@hop.example:user@final.example>");
  assert.ok(routed.kind === "RCPT" && routed.forwardPath.kind === "mailbox");
  assert.deepEqual(routed.forwardPath.route, ["hop.example"]);
  const dsn = ok("RCPT TO: <u@x.example> NOTIFY=success,DELAY ORCPT=rfc822;u+40x.example");
  assert.ok(dsn.kind === "RCPT");
  assert.deepEqual(dsn.parameters, { notify: { never: false, success: true, failure: false, delay: true }, orcpt: { addrType: "rfc822", address: "u@x.example" } });
  const never = ok("RCPT TO:<u@x.example> NOTIFY=NEVER ORCPT=utf-8;j\\x{00F6}@x.example");
  assert.ok(never.kind === "RCPT");
  assert.equal(never.parameters.notify?.never, true);
  assert.equal(never.parameters.orcpt?.address, "jö@x.example");
  for (const [line, reason] of [
    ["RCPT TO:<u@x.example> NOTIFY=NEVER,SUCCESS", "parameter-invalid"],
    ["RCPT TO:<u@x.example> NOTIFY=SUCCESS,SUCCESS", "parameter-invalid"],
    ["RCPT TO:<u@x.example> ORCPT=u@x.example", "parameter-invalid"],
    ["RCPT TO:<u@x.example> SIZE=10", "parameter-unrecognized"],
    ["RCPT TO:<u@x.example> NOTIFY=NEVER NOTIFY=NEVER", "parameter-duplicate"],
    ["RCPT TO:<>", "address"],
    ["RCPT FROM:<u@x.example>", "syntax"],
  ] as const) {
    assert.equal(refused(line).reason, reason, line);
  }
});

test("BDAT sizes and LAST", () => {
  assert.deepEqual(ok("BDAT 1000"), { kind: "BDAT", size: 1000, last: false });
  assert.deepEqual(ok("bdat 0 last"), { kind: "BDAT", size: 0, last: true });
  for (const bad of ["BDAT", "BDAT -1", "BDAT 1e30", "BDAT 99999999999999999999", "BDAT 10 FIRST", "BDAT 10 LAST x", "BDAT  10"]) {
    assert.equal(refused(bad).verb, "BDAT", bad);
  }
});

test("AUTH mechanism and initial response", () => {
  assert.deepEqual(ok("AUTH plain AGFsaWNlAHNlY3JldA=="), { kind: "AUTH", mechanism: "PLAIN", initialResponse: "AGFsaWNlAHNlY3JldA==" });
  assert.deepEqual(ok("AUTH LOGIN"), { kind: "AUTH", mechanism: "LOGIN", initialResponse: null });
  assert.deepEqual(ok("AUTH PLAIN ="), { kind: "AUTH", mechanism: "PLAIN", initialResponse: "" });
  for (const bad of ["AUTH", "AUTH PL@IN", "AUTH PLAIN a b", "AUTH PLAIN ab$d", "AUTH A23456789012345678901"]) {
    assert.equal(refused(bad).verb, "AUTH", bad);
  }
  // RFC 4954 §4: AUTH lines may reach 12288 octets even when other commands may not.
  const long = "A".repeat(8000);
  assert.equal(ok(`AUTH PLAIN ${long}`).kind, "AUTH");
  assert.equal(refused(`NOOP ${long}`).reason, "line-too-long");
  assert.equal(refused(`AUTH PLAIN ${"A".repeat(13000)}`).reason, "line-too-long");
});

test("text commands", () => {
  assert.deepEqual(ok("NOOP"), { kind: "NOOP", text: "" });
  assert.deepEqual(ok("NOOP hello there"), { kind: "NOOP", text: "hello there" });
  assert.deepEqual(ok("HELP MAIL"), { kind: "HELP", text: "MAIL" });
  assert.deepEqual(ok("VRFY <postmaster>"), { kind: "VRFY", text: "<postmaster>" });
  assert.equal(refused("VRFY").reason, "syntax");
  assert.equal(refused("EXPN ").reason, "syntax");
});

test("line length limit is configurable", () => {
  assert.equal(refused(`NOOP ${"a".repeat(600)}`, { maxLineOctets: 512 }).reason, "line-too-long");
  assert.equal(ok(`NOOP ${"a".repeat(600)}`).kind, "NOOP");
});

test("property: any line, string or bytes, parses or is refused without throwing", () => {
  const pieces = fc.constantFrom("MAIL", "RCPT", "FROM:", "TO:", "<", ">", "@", "\"", "\\", " ", "=", "SIZE", "BDAT", "AUTH", "EHLO", "a", "é", "\u0000", "\r", "\n", "+", ";", ":", ",", "[", "]", "9", "LAST", "NOTIFY", "ORCPT", "x.example");
  fc.assert(
    fc.property(fc.array(pieces, { maxLength: 30 }), fc.boolean(), fc.boolean(), (parts, asBuffer, smtputf8) => {
      const line = parts.join("");
      const result = parseCommand(asBuffer ? Buffer.from(line, "utf8") : line, { smtputf8 });
      assert.equal(typeof result.kind, "string");
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      assert.equal(typeof parseCommand(Buffer.from(bytes)).kind, "string");
    }),
  );
});

test("no super-linear blow-up on long hostile lines", () => {
  const hostile = [
    `MAIL FROM:<${'"'.repeat(2000)}>`,
    `MAIL FROM:<a@b.example>${" A".repeat(1000)}`,
    `RCPT TO:<${"@a,".repeat(600)}:u@x.example>`,
    `NOOP${" ".repeat(2000)}x`,
    `AUTH PLAIN ${"A".repeat(12000)}!`,
    `EHLO ${"a.".repeat(1000)}`,
  ];
  const started = process.hrtime.bigint();
  for (let i = 0; i < 20; i++) for (const line of hostile) parseCommand(line);
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(elapsedMs < 1000, `took ${elapsedMs} ms`);
});
