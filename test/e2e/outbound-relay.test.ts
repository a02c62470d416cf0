// Outbound delivery end to end: two Mailroom instances on loopback (a.test sends, b.test receives)
// and a DNS server on loopback that both instances' configs name (outbound.dns_servers).
// Submission on A → queue → worker → MX lookup → SMTP → B's MX → bob's INBOX, DKIM-verified by B; B's 4xx and B being down make A retry; B's 5xx bounces to alice's INBOX.
import { test } from "node:test";
import assert from "node:assert/strict";
import nodemailer from "nodemailer";
import { inboxTexts, startOutboundPair, type OutboundPair } from "../harness/outbound-pair.js";

async function submit(pair: OutboundPair, to: string[], subject: string, extra: Record<string, unknown> = {}): Promise<void> {
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port: pair.a.ports.submission!,
    secure: false,
    requireTLS: true,
    auth: { user: "alice@a.test", pass: "alice-pass" },
    tls: { rejectUnauthorized: false },
    name: "laptop.a.test",
  });
  await transport.sendMail({ from: "alice@a.test", to, subject, text: `Body of ${subject}\n.leading dot line\n`, ...extra });
  transport.close();
}

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > until) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test("a message submitted on A reaches bob on B, DKIM-signed (Ed25519 and RSA) and verified by B", async () => {
  const pair = await startOutboundPair();
  try {
    const attempt = pair.nextAttempt();
    await submit(pair, ["bob@b.test"], "hello B");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => [o.address, o.state, o.remoteMta]), [["bob@b.test", "delivered", "mx.b.test"]]);
    assert.equal(report.completed, true);
    const inbox = await inboxTexts(pair.b);
    assert.equal(inbox.length, 1);
    const text = inbox[0]!;
    assert.match(text, /Subject: hello B/);
    assert.match(text, /\r\n\.leading dot line\r\n/, "dot-stuffing is undone by the receiver");
    assert.match(text, /Authentication-Results: mx\.b\.test;[\s\S]*dkim=pass[\s\S]*header\.d=a\.test/);
    assert.match(text, /spf=pass/);
    assert.match(text, /dmarc=pass/);
    assert.equal(text.match(/^DKIM-Signature:/gm)?.length, 2);
    // Every lookup was a real DNS query to the loopback server both configs name: A's MX and
    // address lookups, B's SPF, DKIM key and DMARC lookups.
    for (const query of ["MX b.test", "A mx.b.test", "TXT a.test", "TXT _dmarc.a.test"]) assert.ok(pair.dns.log.includes(query), `${query} in ${pair.dns.log.join(", ")}`);
    assert.ok(pair.dns.log.some((q) => /^TXT mailroom[^ ]*\._domainkey\.a\.test/.test(q)), pair.dns.log.join(", "));
    assert.deepEqual(await pair.a.temp.store.listQueue(), [], "the entry is gone once delivered");
  } finally {
    await pair.stop();
  }
});

test("B answering 4xx makes A retry; once B accepts, the message arrives once", async () => {
  const pair = await startOutboundPair();
  try {
    pair.front.mode = "tempfail";
    const deferred = pair.nextAttempt((r) => r.outcomes.some((o) => o.state === "deferred"));
    await submit(pair, ["bob@b.test"], "greylisted");
    const first = await deferred;
    assert.equal(first.outcomes[0]!.status, "4.7.1");
    const [entry] = await pair.a.temp.store.listQueue();
    assert.match(entry!.recipients[0]!.lastResult!, /^mx\.b\.test said: 451 4\.7\.1 Greylisted/);
    const delivered = pair.nextAttempt((r) => r.completed);
    pair.front.mode = "pass";
    await delivered;
    const inbox = await inboxTexts(pair.b);
    assert.equal(inbox.filter((t) => t.includes("Subject: greylisted")).length, 1);
    assert.equal((await inboxTexts(pair.a)).length, 0, "no DSN for a delay that ended before the warning");
  } finally {
    await pair.stop();
  }
});

test("B down makes A retry and deliver once B is back", async () => {
  const pair = await startOutboundPair();
  try {
    await pair.front.down();
    const refused = pair.nextAttempt();
    await submit(pair, ["bob@b.test"], "while down");
    const first = await refused;
    assert.equal(first.outcomes[0]!.state, "deferred");
    assert.match(first.outcomes[0]!.diagnostic, /ECONNREFUSED/);
    const delivered = pair.nextAttempt((r) => r.completed);
    await pair.front.up("pass");
    await delivered;
    assert.equal((await inboxTexts(pair.b)).filter((t) => t.includes("Subject: while down")).length, 1);
  } finally {
    await pair.stop();
  }
});

test("B answering 5xx for one recipient: the other is delivered and alice gets one DSN for the failure", async () => {
  const pair = await startOutboundPair();
  try {
    const attempt = pair.nextAttempt();
    await submit(pair, ["bob@b.test", "nobody@b.test"], "partly wrong", { envelope: { from: "alice@a.test", to: ["bob@b.test", "nobody@b.test"] } });
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => [o.address, o.state]), [["bob@b.test", "delivered"], ["nobody@b.test", "failed"]]);
    const dsns = await eventually(() => inboxTexts(pair.a), (list) => list.length > 0);
    assert.equal(dsns.length, 1);
    const dsn = dsns[0]!;
    assert.match(dsn, /^Return-Path: <>\r\n/);
    assert.match(dsn, /Content-Type: multipart\/report; report-type=delivery-status/);
    assert.match(dsn, /Final-Recipient: rfc822; nobody@b\.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; mx\.b\.test\r\nDiagnostic-Code: smtp; 550 5\.1\.1/);
    assert.doesNotMatch(dsn, /Final-Recipient: rfc822; bob@b\.test/);
    assert.match(dsn, /Content-Type: text\/rfc822-headers\r\n\r\n[\s\S]*Subject: partly wrong/);
    assert.doesNotMatch(dsn, /Body of partly wrong/, "RET absent: headers only");
    assert.equal((await inboxTexts(pair.b)).length, 1);
  } finally {
    await pair.stop();
  }
});

test("a domain with a null MX (RFC 7505) bounces at once without a connection", async () => {
  const pair = await startOutboundPair({ dns: { "nomail.test": { MX: [{ exchange: "", priority: 0 }] } } });
  try {
    const attempt = pair.nextAttempt();
    await submit(pair, ["x@nomail.test"], "to nowhere");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => [o.state, o.status]), [["failed", "5.1.10"]]);
    const [dsn] = await eventually(() => inboxTexts(pair.a), (list) => list.length > 0);
    assert.match(dsn!, /Status: 5\.1\.10/);
    assert.match(dsn!, /null MX/);
  } finally {
    await pair.stop();
  }
});

test("still deferred after the warning time: one delayed DSN; after the lifetime: a failed DSN with 4.4.7", async () => {
  const pair = await startOutboundPair({ retry: { scheduleMs: [150], delayWarningMs: 400, maxLifetimeMs: 1500 } });
  try {
    pair.front.mode = "tempfail";
    const expired = pair.nextAttempt((r) => r.completed, 20_000);
    await submit(pair, ["bob@b.test"], "never arrives");
    const report = await expired;
    assert.deepEqual(report.outcomes.map((o) => [o.state, o.status]), [["failed", "4.4.7"]]);
    const dsns = await eventually(() => inboxTexts(pair.a), (list) => list.length >= 2);
    assert.equal(dsns.length, 2, "one delay warning and one failure, however many attempts ran");
    assert.equal(dsns.filter((t) => /Action: delayed/.test(t) && /Will-Retry-Until: /.test(t)).length, 1);
    assert.equal(dsns.filter((t) => /Action: failed\r\nStatus: 4\.4\.7/.test(t)).length, 1);
    assert.deepEqual(await pair.a.temp.store.listQueue(), []);
  } finally {
    await pair.stop();
  }
});

test("DSN parameters from submission are honoured: NOTIFY=SUCCESS to a server without DSN gives a relayed DSN with ENVID and ORCPT", async () => {
  const pair = await startOutboundPair();
  try {
    const attempt = pair.nextAttempt();
    await submit(pair, ["bob@b.test"], "tell me", { dsn: { id: "env-42", return: "full", notify: ["success", "failure"], recipient: "bob@b.test" } });
    const [entry] = [await attempt];
    assert.equal(entry!.outcomes[0]!.state, "delivered");
    const [dsn] = await eventually(() => inboxTexts(pair.a), (list) => list.length > 0);
    assert.match(dsn!, /Original-Envelope-Id: env-42/);
    assert.match(dsn!, /Original-Recipient: rfc822; bob@b\.test\r\nFinal-Recipient: rfc822; bob@b\.test\r\nAction: relayed\r\nStatus: 2\.0\.0/);
    assert.match(dsn!, /Content-Type: message\/rfc822\r\n\r\n[\s\S]*Body of tell me/, "RET=FULL returns the whole message");
  } finally {
    await pair.stop();
  }
});

test("DSN on failure: NOTIFY=NEVER suppresses the bounce; NOTIFY=FAILURE echoes ENVID and ORCPT in it", async () => {
  const pair = await startOutboundPair();
  try {
    const silent = pair.nextAttempt();
    await submit(pair, ["nobody@b.test"], "quiet failure", { dsn: { id: "env-never", notify: ["never"], recipient: "nobody@b.test" } });
    assert.deepEqual((await silent).outcomes.map((o) => o.state), ["failed"]);
    const loud = pair.nextAttempt();
    await submit(pair, ["nobody@b.test"], "loud failure", { dsn: { id: "env-fail", return: "headers", notify: ["failure"], recipient: "orig+nobody@b.test" } });
    assert.deepEqual((await loud).outcomes.map((o) => o.state), ["failed"]);
    const dsns = await eventually(() => inboxTexts(pair.a), (list) => list.length > 0);
    // An attempt writes its DSNs before it reports, so after both reports every DSN is in place.
    assert.equal(dsns.length, 1, "no DSN for the NOTIFY=NEVER recipient");
    assert.match(dsns[0]!, /Original-Envelope-Id: env-fail\r\n/);
    assert.match(dsns[0]!, /Original-Recipient: rfc822; orig\+2Bnobody@b\.test\r\nFinal-Recipient: rfc822; nobody@b\.test\r\nAction: failed\r\nStatus: 5\.1\.1/);
    assert.match(dsns[0]!, /Subject: loud failure/);
    assert.doesNotMatch(dsns[0]!, /env-never|quiet failure/);
  } finally {
    await pair.stop();
  }
});
