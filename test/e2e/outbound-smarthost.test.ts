// Smarthost and static routes in real deliveries from A. The smarthost is a Mailroom submission
// listener on implicit TLS (B's port 465, certificate from a test CA for relay.b.test) where
// alice@a.test has an account: A relays with AUTH PLAIN, verifying the certificate. A static route
// sends b.test's mail to a fixed host even though b.test publishes no MX.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nodemailer from "nodemailer";
import { inboxTexts, startOutboundPair, type OutboundPair } from "../harness/outbound-pair.js";
import { createTestCa, issueCert, type IssuedCert, type TestCa } from "../harness/outbound-tls.js";
import { cheapHash } from "../harness/temp-store.js";

let dir = "";
let ca: TestCa;
let relayCert: IssuedCert;
let passwordFile = "";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mailroom-smarthost-"));
  ca = await createTestCa();
  relayCert = await issueCert(ca, ["relay.b.test"], dir);
  passwordFile = join(dir, "relay-password");
  await writeFile(passwordFile, "relay-secret\n");
});

after(() => rm(dir, { recursive: true, force: true }));

async function submit(pair: OutboundPair, to: string, subject: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: "127.0.0.1", port: pair.a.ports.submission!, secure: false, requireTLS: true, auth: { user: "alice@a.test", pass: "alice-pass" }, tls: { rejectUnauthorized: false } });
  await transport.sendMail({ from: "alice@a.test", to, subject, text: "via a relay\n" });
  transport.close();
}

function smarthostPair(password: string): Promise<OutboundPair> {
  return startOutboundPair({
    bRoles: ["mx", "submissions"],
    b: { certificate: relayCert },
    dns: { "relay.b.test": { A: ["127.0.0.1"] } },
    extras: { trustedCa: ca.cert },
    outboundToml: ({ b }) => [`smarthost = "relay.b.test:${b.ports.submissions}"`, 'smarthost_tls = "implicit"', 'smarthost_username = "alice@a.test"', `smarthost_password_file = ${JSON.stringify(password)}`].join("\n"),
  });
}

test("smarthost: AUTH PLAIN over implicit TLS (verified certificate) to a Mailroom submission listener", async () => {
  const pair = await smarthostPair(passwordFile);
  try {
    // The relay knows alice@a.test as one of its accounts, with the password from the file.
    await pair.b.temp.store.addDomain("a.test");
    await pair.b.temp.store.createAccount({ address: "alice@a.test", passwordHash: await cheapHash("relay-secret") });
    const attempt = pair.nextAttempt();
    await submit(pair, "bob@b.test", "relayed");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => [o.state, o.remoteMta]), [["delivered", "relay.b.test"]], report.outcomes[0]?.diagnostic);
    const [text] = await inboxTexts(pair.b);
    assert.match(text!, /Subject: relayed/);
    assert.match(text!, /from mx\.a\.test [^;]*with ESMTPSA/, "authenticated over TLS at the relay");
    assert.ok(!pair.dns.log.includes("MX b.test"), "no MX lookup: everything goes to the smarthost");
  } finally {
    await pair.stop();
  }
});

test("smarthost: a wrong password is the relay's 535, and the message is not delivered", async () => {
  const wrong = join(dir, "wrong-password");
  await writeFile(wrong, "not-it\n");
  const pair = await smarthostPair(wrong);
  try {
    await pair.b.temp.store.addDomain("a.test");
    await pair.b.temp.store.createAccount({ address: "alice@a.test", passwordHash: await cheapHash("relay-secret") });
    const attempt = pair.nextAttempt();
    await submit(pair, "bob@b.test", "bad password");
    const report = await attempt;
    assert.notEqual(report.outcomes[0]!.state, "delivered");
    assert.match(report.outcomes[0]!.diagnostic, /^535\b/);
    assert.equal((await inboxTexts(pair.b)).length, 0);
  } finally {
    await pair.stop();
  }
});

test("static route: b.test's mail goes to the configured host:port although b.test has no MX or address", async () => {
  const pair = await startOutboundPair({
    dns: { "b.test": {}, "route.b.test": { A: ["127.0.0.1"] } },
    outboundToml: ({ front }) => `routes = { "B.test" = "route.b.test:${front.port}" }`,
  });
  try {
    const attempt = pair.nextAttempt();
    await submit(pair, "bob@b.test", "routed");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => [o.state, o.remoteMta]), [["delivered", "route.b.test"]], report.outcomes[0]?.diagnostic);
    assert.equal((await inboxTexts(pair.b)).filter((t) => t.includes("Subject: routed")).length, 1);
    assert.ok(pair.dns.log.includes("A route.b.test"));
    assert.ok(!pair.dns.log.includes("MX b.test"), "the route is used instead of MX");
  } finally {
    await pair.stop();
  }
});
