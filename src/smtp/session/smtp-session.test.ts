import { test } from "node:test";
import assert from "node:assert/strict";
import { RecordingPolicy, startSession, TEST_LIMITS, testAuthenticator } from "./session-fixture.js";
import { createMemoryLogger } from "../../observability/log.js";

const codes = (text: string) => text.split("\r\n").filter((line) => line !== "").map((line) => line.slice(0, 3));

test("greeting, EHLO advertisement on an mx listener: no AUTH, STARTTLS until TLS", async () => {
  const h = await startSession();
  assert.match(h.take(), /^220 mx\.example\.org ESMTP /);
  const ehlo = await h.send("EHLO client.example\r\n");
  for (const keyword of ["PIPELINING", "SIZE 10000", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "STARTTLS"]) assert.match(ehlo, new RegExp(`250[- ]${keyword}\r\n`));
  assert.doesNotMatch(ehlo, /AUTH/);
  assert.match(await h.send("AUTH PLAIN AHVzZXJAZXhhbXBsZS5vcmcAc2VjcmV0\r\n"), /^502 5\.5\.1 /);
  await h.send("STARTTLS\r\n");
  assert.equal(h.tlsStarted(), 1);
  const after = await h.send("EHLO client.example\r\n");
  assert.doesNotMatch(after, /STARTTLS|AUTH/);
});

test("DSN is not advertised on mx (no local delivery DSNs), so its parameters are refused, not ignored", async () => {
  const h = await startSession();
  h.take();
  assert.doesNotMatch(await h.send("EHLO client.example\r\n"), /DSN/);
  assert.match(await h.send("MAIL FROM:<a@ext.example> RET=HDRS\r\n"), /^555 5\.5\.4 /);
  assert.match(await h.send("MAIL FROM:<a@ext.example>\r\n"), /^250 /);
  assert.match(await h.send("RCPT TO:<bob@example.org> NOTIFY=SUCCESS\r\n"), /^555 5\.5\.4 /);
});

test("DSN is advertised on submission, where the outbound queue writes the DSNs", async () => {
  const h = await startSession({ role: "submission" });
  h.take();
  assert.match(await h.send("EHLO client.example\r\n"), /250[- ]DSN\r\n/);
});

test("commands out of order get 503 5.5.1", async () => {
  const h = await startSession();
  h.take();
  assert.match(await h.send("MAIL FROM:<a@ext.example>\r\n"), /^503 5\.5\.1 /);
  await h.send("EHLO c\r\n");
  assert.match(await h.send("RCPT TO:<bob@example.org>\r\n"), /^503 5\.5\.1 /);
  assert.match(await h.send("DATA\r\n"), /^503 5\.5\.1 /);
  assert.match(await h.send("MAIL FROM:<a@ext.example>\r\n"), /^250 2\.1\.0 /);
  assert.match(await h.send("MAIL FROM:<a@ext.example>\r\n"), /^503 5\.5\.1 /);
  assert.match(await h.send("DATA\r\n"), /^554 5\.5\.1 /);
});

test("a pipelined transaction is delivered with the body unstuffed; small commands answer", async () => {
  const policy = new RecordingPolicy();
  const h = await startSession({ policy });
  h.take();
  const out = await h.send("EHLO c\r\nMAIL FROM:<a@ext.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nSubject: x\r\n\r\n..dot\r\nbody\r\n.\r\nNOOP\r\n");
  assert.deepEqual(codes(out).slice(-5), ["250", "250", "354", "250", "250"]);
  assert.match(out, /250 2\.0\.0 Ok: queued as /);
  assert.equal(policy.delivered.length, 1);
  assert.equal(policy.delivered[0]!.bytes.toString(), "Subject: x\r\n\r\n.dot\r\nbody\r\n");
  assert.equal(policy.delivered[0]!.envelope.recipients[0]!.mailbox.address, "bob@example.org");
  assert.match(await h.send("VRFY bob\r\n"), /^252 2\.5\.0 /);
  assert.match(await h.send("EXPN list\r\n"), /^502 5\.5\.1 /);
  assert.match(await h.send("HELP\r\n"), /^214 2\.0\.0 /);
  assert.match(await h.send("RSET\r\n"), /^250 2\.0\.0 /);
  assert.match(await h.send("QUIT\r\n"), /^221 2\.0\.0 /);
  assert.ok(h.closed());
});

test("the same transaction fed one byte at a time gives the same replies and message", async () => {
  const script = "EHLO c\r\nMAIL FROM:<a@ext.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nA: b\r\n\r\n..\r\n..x\r\n.\r\nQUIT\r\n";
  const whole = new RecordingPolicy();
  const a = await startSession({ policy: whole });
  const expected = a.take() + (await a.send(script));
  const bytewise = new RecordingPolicy();
  const b = await startSession({ policy: bytewise });
  let text = b.take();
  for (const byte of Buffer.from(script)) text += await b.send(Buffer.from([byte]));
  assert.equal(text.replace(/queued as \S+/, ""), expected.replace(/queued as \S+/, ""));
  assert.equal(bytewise.delivered[0]!.bytes.toString(), "A: b\r\n\r\n.\r\n.x\r\n");
});

test("hostile: STARTTLS injection — commands pipelined after STARTTLS are dropped, not run after the handshake", async () => {
  const policy = new RecordingPolicy();
  const h = await startSession({ policy });
  h.take();
  await h.send("EHLO c\r\n");
  const out = await h.send("STARTTLS\r\nMAIL FROM:<a@ext.example>\r\nRCPT TO:<bob@example.org>\r\n");
  assert.deepEqual(codes(out), ["220"]);
  assert.equal(h.tlsStarted(), 1);
  // The injected MAIL never ran: the session wants EHLO again and has no transaction.
  assert.match(await h.send("RCPT TO:<bob@example.org>\r\n"), /^503 5\.5\.1 /);
  assert.match(await h.send("MAIL FROM:<a@ext.example>\r\n"), /^503 5\.5\.1 Send EHLO/);
});

test("hostile: AUTH before TLS on submission gets 538 5.7.11 and no credentials are checked", async () => {
  const h = await startSession({ role: "submission", limits: { ...TEST_LIMITS, maxSmtpErrors: 20 } });
  h.take();
  const ehlo = await h.send("EHLO c\r\n");
  assert.doesNotMatch(ehlo, /AUTH/);
  const before = testAuthenticator.attempts;
  assert.match(await h.send("AUTH PLAIN AHVzZXJAZXhhbXBsZS5vcmcAc2VjcmV0\r\n"), /^538 5\.7\.11 /);
  assert.match(await h.send("AUTH LOGIN\r\n"), /^538 5\.7\.11 /);
  assert.equal(testAuthenticator.attempts, before);
  assert.match(await h.send("MAIL FROM:<user@example.org>\r\n"), /^530 5\.7\.0 Must issue a STARTTLS/);
  await h.send("STARTTLS\r\n");
  assert.match(await h.send("EHLO c\r\n"), /250 AUTH PLAIN LOGIN\r\n/);
  assert.match(await h.send("MAIL FROM:<user@example.org>\r\n"), /^530 5\.7\.0 Authentication required/);
  assert.match(await h.send("AUTH PLAIN AHVzZXJAZXhhbXBsZS5vcmcAd3Jvbmc=\r\n"), /^535 5\.7\.8 /);
  assert.match(await h.send("AUTH LOGIN\r\n"), /^334 VXNlcm5hbWU6\r\n$/);
  assert.match(await h.send("dXNlckBleGFtcGxlLm9yZw==\r\n"), /^334 /);
  assert.match(await h.send("c2VjcmV0\r\n"), /^235 2\.7\.0 /);
  assert.match(await h.send("AUTH PLAIN =\r\n"), /^503 5\.5\.1 /);
  assert.match(await h.send("MAIL FROM:<user@example.org>\r\n"), /^250 2\.1\.0 /);
});

test("AUTH cancelled with * gets 501; an unknown mechanism 504", async () => {
  const h = await startSession({ role: "submissions", implicitTls: true });
  await h.send("EHLO c\r\n");
  assert.match(await h.send("AUTH CRAM-MD5\r\n"), /^504 5\.5\.4 /);
  assert.match(await h.send("AUTH PLAIN\r\n"), /^334 \r\n$/);
  assert.match(await h.send("*\r\n"), /^501 5\.0\.0 /);
  assert.match(await h.send("NOOP\r\n"), /^250 /);
});

test("hostile: an over-long command line gets one 500 5.5.2 and the session goes on", async () => {
  const h = await startSession({ limits: { ...TEST_LIMITS, maxSmtpErrors: 50 } });
  await h.send("EHLO c\r\n");
  let out = "";
  const kilobyte = Buffer.alloc(1024, 0x41);
  for (let i = 0; i < 1024; i++) out += await h.send(kilobyte);
  out += await h.send("\r\n");
  assert.deepEqual(codes(out), ["500"]);
  assert.match(out, /^500 5\.5\.2 /);
  // Longer than smtpLineLength but within a line the reader holds: refused by the parser.
  assert.match(await h.send(`NOOP ${"x".repeat(600)}\r\n`), /^500 5\.5\.2 /);
  assert.match(await h.send("NOOP\r\n"), /^250 /);
});

test("hostile: a text line over 998 octets in DATA rejects the message (554 5.6.0)", async () => {
  const policy = new RecordingPolicy();
  const h = await startSession({ policy });
  await h.send("EHLO c\r\nMAIL FROM:<a@ext.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n");
  h.take();
  const out = await h.send(`Subject: x\r\n\r\n${"y".repeat(999)}\r\n.\r\n`);
  assert.match(out, /^554 5\.6\.0 /);
  assert.equal(policy.delivered.length, 0);
  assert.match(await h.send(`MAIL FROM:<a@ext.example>\r\n`), /^250 /);
});

test("hostile: too many recipients get 452 4.5.3", async () => {
  const h = await startSession();
  await h.send("EHLO c\r\nMAIL FROM:<a@ext.example>\r\n");
  h.take();
  let out = "";
  for (let i = 0; i < 6; i++) out += await h.send(`RCPT TO:<u${i}@example.org>\r\n`);
  assert.deepEqual(codes(out), ["250", "250", "250", "250", "250", "452"]);
  assert.match(out, /452 4\.5\.3 /);
});

test("hostile: too many errors end the session with 421 4.7.0", async () => {
  const h = await startSession();
  h.take();
  const out = await h.send("BOGUS\r\nBOGUS\r\nBOGUS\r\nBOGUS\r\nBOGUS\r\nNOOP\r\n");
  assert.deepEqual(codes(out), ["500", "500", "500", "500", "500", "421"]);
  assert.match(out, /421 4\.7\.0 /);
  assert.ok(h.closed());
});

test("hostile: SMTP smuggling — bare LF and bare CR never end DATA and get the message refused", async () => {
  for (const smuggle of ["\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n"]) {
    const policy = new RecordingPolicy();
    const h = await startSession({ policy });
    await h.send("EHLO c\r\nMAIL FROM:<a@ext.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n");
    h.take();
    const out = await h.send(`Subject: a\r\n\r\nhello${smuggle}MAIL FROM:<evil@ext.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\n.\r\n`);
    assert.deepEqual(codes(out), ["554"], JSON.stringify(smuggle));
    assert.match(out, /^554 5\.5\.2 /);
    assert.equal(policy.delivered.length, 0);
  }
});

test("hostile: a client trickling a command is cut off by the command deadline (421 4.4.2)", async () => {
  const h = await startSession();
  await h.send("EHLO c\r\n");
  h.take();
  let out = "";
  for (const byte of "NOOP") {
    out += await h.send(byte);
    h.timers.advance(10_000);
  }
  await new Promise(setImmediate);
  out += h.take();
  assert.match(out, /^421 4\.4\.2 /);
  assert.ok(h.timers.now < TEST_LIMITS.smtpIdle);
  assert.ok(h.closed());
});

test("hostile: a client trickling DATA lines is cut off by the transaction deadline", async () => {
  const h = await startSession();
  await h.send("EHLO c\r\nMAIL FROM:<a@ext.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n");
  h.take();
  let out = "";
  for (let i = 0; i < 20 && !h.closed(); i++) {
    out += await h.send("line\r\n");
    h.timers.advance(10_000);
    await new Promise(setImmediate);
  }
  assert.ok(h.closed());
  assert.match(out + h.take(), /^421 4\.4\.2 /);
  assert.ok(h.timers.now >= TEST_LIMITS.smtpTransactionDeadline && h.timers.now < TEST_LIMITS.smtpTransactionDeadline + 20_000);
});

test("idle timeout: 421 4.4.2 after smtpIdle without input", async () => {
  const h = await startSession();
  await h.send("EHLO c\r\n");
  h.take();
  h.timers.advance(TEST_LIMITS.smtpIdle - 1);
  assert.equal(h.closed(), false);
  h.timers.advance(1);
  await new Promise(setImmediate);
  assert.match(h.take(), /^421 4\.4\.2 /);
  assert.ok(h.closed());
});

test("SIZE: a declared size over the limit is refused at MAIL, a counted one at the end of DATA", async () => {
  const policy = new RecordingPolicy();
  const h = await startSession({ policy });
  await h.send("EHLO c\r\n");
  assert.match(await h.send("MAIL FROM:<a@ext.example> SIZE=10001\r\n"), /^552 5\.3\.4 /);
  await h.send("MAIL FROM:<a@ext.example> SIZE=100\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n");
  h.take();
  let out = "";
  for (let i = 0; i < 30; i++) out += await h.send(`${"z".repeat(500)}\r\n`);
  out += await h.send(".\r\n");
  assert.match(out, /^552 5\.3\.4 /);
  assert.equal(policy.delivered.length, 0);
  assert.ok(h.staging.staged.every((s) => s.discarded));
});

test("parameters of extensions not advertised are refused after HELO (555 5.5.4)", async () => {
  const h = await startSession();
  h.take();
  assert.match(await h.send("HELO c\r\n"), /^250 mx\.example\.org /);
  assert.match(await h.send("MAIL FROM:<a@ext.example> BODY=8BITMIME\r\n"), /^555 5\.5\.4 /);
  assert.match(await h.send("MAIL FROM:<a@ext.example> AUTH=<>\r\n"), /^555 5\.5\.4 /);
  assert.match(await h.send("MAIL FROM:<a@ext.example>\r\n"), /^250 /);
  assert.match(await h.send("RCPT TO:<bob@example.org> NOTIFY=NEVER\r\n"), /^555 5\.5\.4 /);
});

test("BDAT: chunks and LAST deliver; DATA after BDAT and BINARYMIME with DATA are refused", async () => {
  const policy = new RecordingPolicy();
  const h = await startSession({ policy });
  await h.send("EHLO c\r\nMAIL FROM:<a@ext.example> BODY=BINARYMIME\r\nRCPT TO:<bob@example.org>\r\n");
  h.take();
  assert.match(await h.send("DATA\r\n"), /^503 5\.5\.1 /);
  assert.match(await h.send("BDAT 7\r\nA: b\r\n\r"), /^250 2\.0\.0 7 octets/);
  assert.match(await h.send("DATA\r\n"), /^503 5\.5\.1 /);
  const out = await h.send("BDAT 6 LAST\r\n\n\x00x\r\n.NOOP\r\n");
  assert.deepEqual(codes(out), ["250", "250"]);
  assert.equal(policy.delivered[0]!.bytes.toString("latin1"), "A: b\r\n\r\n\x00x\r\n.");
});

test("BDAT out of sequence still consumes its bytes, which never run as commands", async () => {
  const policy = new RecordingPolicy();
  const h = await startSession({ policy });
  await h.send("EHLO c\r\n");
  h.take();
  const out = await h.send("BDAT 33\r\nMAIL FROM:<x@ext.example>\r\nQUIT\r\nNOOP\r\n");
  assert.deepEqual(codes(out), ["503", "250"]);
  assert.equal(h.closed(), false);
});

test("BDAT over the size limit gets 552 5.3.4 after its bytes, and the transaction ends", async () => {
  const h = await startSession();
  await h.send("EHLO c\r\nMAIL FROM:<a@ext.example>\r\nRCPT TO:<bob@example.org>\r\n");
  h.take();
  assert.match(await h.send(`BDAT 6000\r\n${"a".repeat(6000)}`), /^250 /);
  assert.match(await h.send(`BDAT 6000 LAST\r\n${"a".repeat(6000)}`), /^552 5\.3\.4 /);
  assert.match(await h.send("BDAT 1 LAST\r\nx"), /^503 5\.5\.1 /);
  assert.ok(h.staging.staged.every((s) => s.discarded));
});

test("every refused command is logged at info with stage, client and reply; a flood is rate-limited per session", async () => {
  const log = createMemoryLogger();
  const h = await startSession({ log, limits: { ...TEST_LIMITS, maxSmtpErrors: 1000 } });
  h.take();
  await h.send("EHLO client.example\r\n");
  assert.match(await h.send("MAIL FROM:<broken\r\n"), /^501 /);
  assert.match(await h.send("FROB\r\n"), /^500 /);
  const [syntax, unknown] = log.records.filter((r) => r.event === "smtp.command_refused");
  assert.deepEqual(
    { level: syntax?.level, stage: syntax?.stage, clientIp: syntax?.clientIp, clientName: syntax?.clientName, code: syntax?.code, enhanced: syntax?.enhanced },
    { level: "info", stage: "MAIL", clientIp: "192.0.2.1", clientName: "client.example", code: 501, enhanced: "5.5.4" },
  );
  assert.equal(typeof syntax?.text, "string");
  assert.deepEqual([unknown?.stage, unknown?.code], ["command", 500]);
  // 100 more in the same instant: 8 more lines (a burst of 10), then nothing until time passes.
  for (let i = 0; i < 100; i++) await h.send("FROB\r\n");
  assert.equal(log.records.filter((r) => r.event === "smtp.command_refused").length, 10);
  h.timers.advance(6_000);
  await h.send("FROB\r\n");
  const last = log.records.filter((r) => r.event === "smtp.command_refused").at(-1);
  assert.equal(last?.suppressed, 92);
});

test("stopping: the message committing gets its 250, the commands pipelined behind it do not run, then 421 4.3.2", async () => {
  let release!: () => void;
  const committing = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const delivering = new Promise<void>((resolve) => (started = resolve));
  const recording = new RecordingPolicy();
  const policy = Object.assign(Object.create(recording) as RecordingPolicy, {
    async deliver(...args: Parameters<RecordingPolicy["deliver"]>) {
      started();
      await committing;
      return recording.deliver(...args);
    },
  });
  const h = await startSession({ policy });
  await h.send("EHLO c\r\n");
  const pipelined = h.send("MAIL FROM:<a@ext.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<b@ext.example>\r\nRCPT TO:<bob@example.org>\r\n");
  await delivering;
  h.session.stopTakingCommands();
  release();
  const out = await pipelined;
  assert.deepEqual(codes(out), ["250", "250", "354", "250"], "the delivery is answered; MAIL and RCPT behind it are not run");
  assert.equal(recording.delivered.length, 1);
  await h.session.sayGoodbye();
  assert.match(h.take(), /^421 4\.3\.2 /);
  assert.ok(h.closed());
});

test("REQUIRETLS (RFC 8689): offered and accepted only on TLS sessions: after STARTTLS, and at once with implicit TLS (465)", async () => {
  const h = await startSession();
  h.take();
  assert.doesNotMatch(await h.send("EHLO client.example\r\n"), /REQUIRETLS/);
  assert.match(await h.send("MAIL FROM:<a@ext.example> REQUIRETLS\r\n"), /^530 5\.7\.10 REQUIRETLS needs TLS/);
  await h.send("STARTTLS\r\n");
  assert.match(await h.send("EHLO client.example\r\n"), /250[- ]REQUIRETLS\r\n/);
  assert.match(await h.send("MAIL FROM:<a@ext.example> REQUIRETLS=YES\r\n"), /^501 /, "REQUIRETLS takes no value");
  assert.match(await h.send("MAIL FROM:<a@ext.example> REQUIRETLS\r\n"), /^250 /);
  const implicit = await startSession({ role: "submissions", implicitTls: true });
  implicit.take();
  assert.match(await implicit.send("EHLO client.example\r\n"), /250[- ]REQUIRETLS\r\n/);
});
