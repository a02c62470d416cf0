// verifyInbound against a fake DNS zone: DKIM pass and body tampering, SPF results for the MAIL
// FROM and HELO identities, DMARC alignment through SPF or DKIM, DNS trouble as temperror, and the
// Authentication-Results field (content, authserv-id, no header injection from the peer).
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { Readable } from "node:stream";
import type { DnsTable } from "./dns-resolver.js";
import { createTableResolver } from "./dns-resolver.js";
import type { VerifyInboundRequest } from "./verify-inbound.js";
import { verifyInbound } from "./verify-inbound.js";
import { signOutbound } from "./sign-outbound.js";
import { createMemoryLogger } from "../observability/log.js";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const rsaPem = rsa.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const rsaPublic = rsa.publicKey.export({ type: "spki", format: "der" }).toString("base64");

function message(from = "Alice <alice@example.org>", body = "Hello Bob,\r\nsee you at noon.\r\n"): Buffer {
  return Buffer.from(
    `From: ${from}\r\nTo: bob@example.net\r\nSubject: lunch\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n` +
      `Message-ID: <lunch-1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}`,
  );
}

async function signedMessage(domain = "example.org", from?: string): Promise<Buffer> {
  const raw = message(from);
  const signature = await signOutbound(raw, { domain, selector: "sel", privateKeyPem: rsaPem, algorithm: "rsa-sha256" });
  return Buffer.concat([Buffer.from(signature), raw]);
}

/** example.org: SPF for 192.0.2.0/24, a DKIM key, and a DMARC record with the given policy. */
function zone(dmarc: string | null = "v=DMARC1; p=reject", extra: DnsTable = {}): DnsTable {
  // DKIM keys longer than 255 octets are split into several character-strings (RFC 6376 §3.6.2.2).
  const key = `v=DKIM1; k=rsa; p=${rsaPublic}`;
  const table: DnsTable = {
    "example.org": { TXT: [["v=spf1 ip4:192.0.2.0/24 -all"]], MX: [{ exchange: "mx.example.org", priority: 10 }] },
    "sel._domainkey.example.org": { TXT: [[key.slice(0, 255), key.slice(255)]] },
    ...extra,
  };
  if (dmarc) table["_dmarc.example.org"] = { TXT: [[dmarc]] };
  return table;
}

function request(overrides: Partial<VerifyInboundRequest> & { message: VerifyInboundRequest["message"] }): VerifyInboundRequest {
  return {
    clientIp: "192.0.2.25",
    heloName: "mail.example.org",
    mailFrom: "alice@example.org",
    receivingHost: "mx.example.net",
    resolver: createTableResolver(zone()),
    ...overrides,
  };
}

test("signed mail from an authorised host: dkim, spf and dmarc pass, all in the A-R field", async () => {
  const verdict = await verifyInbound(request({ message: Readable.from([await signedMessage()]) }));
  assert.deepEqual(verdict.spf, { result: "pass", domain: "example.org", identity: "mailfrom" });
  assert.deepEqual(verdict.dkim, [{ result: "pass", domain: "example.org", selector: "sel", aligned: true }]);
  assert.deepEqual(verdict.dmarc, { result: "pass", policy: "reject", domain: "example.org", percent: 100 });
  assert.equal(verdict.arc.result, "none");
  const header = verdict.authenticationResultsHeader;
  assert.match(header, /^Authentication-Results: mx\.example\.net;\r\n/);
  assert.match(header, /\tdkim=pass header\.d=example\.org header\.s=sel;\r\n/);
  assert.match(header, /\tspf=pass smtp\.mailfrom=alice@example\.org;\r\n/);
  assert.match(header, /\tdmarc=pass \(p=reject\) header\.from=example\.org;\r\n/);
  assert.match(header, /\tarc=none\r\n$/);
});

test("a body changed after signing fails DKIM, and with SPF failing too DMARC fails", async () => {
  const signed = await signedMessage();
  const tampered = Buffer.from(signed.toString("latin1").replace("noon", "one"), "latin1");
  const verdict = await verifyInbound(request({ message: tampered, clientIp: "198.51.100.7" }));
  assert.equal(verdict.dkim[0]?.result, "fail");
  assert.equal(verdict.spf.result, "fail");
  assert.equal(verdict.dmarc.result, "fail");
  assert.equal(verdict.dmarc.policy, "reject");
  assert.match(verdict.authenticationResultsHeader, /dkim=fail header\.d=example\.org/);
  assert.match(verdict.authenticationResultsHeader, /spf=fail smtp\.mailfrom=alice@example\.org/);
  assert.match(verdict.authenticationResultsHeader, /dmarc=fail \(p=reject\)/);
});

test("a changed signed header fails DKIM", async () => {
  const signed = await signedMessage();
  const tampered = Buffer.from(signed.toString("latin1").replace("Subject: lunch", "Subject: dinner"), "latin1");
  const verdict = await verifyInbound(request({ message: tampered }));
  assert.equal(verdict.dkim[0]?.result, "fail");
});

test("SPF: pass inside the range, fail outside it, softfail with ~all, neutral with ?all", async () => {
  const spfOf = async (clientIp: string, table = zone()) =>
    (await verifyInbound(request({ message: message(), clientIp, resolver: createTableResolver(table) }))).spf.result;
  assert.equal(await spfOf("192.0.2.200"), "pass");
  assert.equal(await spfOf("192.0.3.1"), "fail");
  assert.equal(await spfOf("2001:db8::1"), "fail");
  assert.equal(await spfOf("192.0.3.1", zone(null, { "example.org": { TXT: [["v=spf1 ip4:192.0.2.0/24 ~all"]] } })), "softfail");
  assert.equal(await spfOf("192.0.3.1", zone(null, { "example.org": { TXT: [["v=spf1 ip4:192.0.2.0/24 ?all"]] } })), "neutral");
});

test("SPF: include: and mx follow the referenced domains", async () => {
  const table = zone(null, {
    "example.org": { TXT: [["v=spf1 include:_spf.provider.com mx -all"]], MX: [{ exchange: "mx.example.org", priority: 10 }] },
    "_spf.provider.com": { TXT: [["v=spf1 ip4:203.0.113.0/25 ip6:2001:db8:1::/48 -all"]] },
    "mx.example.org": { A: ["198.51.100.10"] },
  });
  const spfOf = async (clientIp: string) =>
    (await verifyInbound(request({ message: message(), clientIp, resolver: createTableResolver(table) }))).spf.result;
  assert.equal(await spfOf("203.0.113.5"), "pass");
  assert.equal(await spfOf("2001:db8:1::25"), "pass");
  assert.equal(await spfOf("198.51.100.10"), "pass", "mx mechanism");
  assert.equal(await spfOf("203.0.113.200"), "fail");
});

test("SPF: none when the domain publishes no SPF record; permerror for two records", async () => {
  const none = await verifyInbound(request({ message: message(), mailFrom: "carol@other.com", resolver: createTableResolver(zone()) }));
  assert.deepEqual(none.spf, { result: "none", domain: "other.com", identity: "mailfrom" });
  const two = zone(null, { "example.org": { TXT: [["v=spf1 -all"], ["v=spf1 +all"]] } });
  const permerror = await verifyInbound(request({ message: message(), resolver: createTableResolver(two) }));
  assert.equal(permerror.spf.result, "permerror");
});

test("null reverse path: SPF evaluates the HELO identity and reports smtp.helo", async () => {
  const table = zone(null, { "mail.example.org": { TXT: [["v=spf1 ip4:192.0.2.25 -all"]] } });
  const verdict = await verifyInbound(request({ message: message(), mailFrom: "", resolver: createTableResolver(table) }));
  assert.deepEqual(verdict.spf, { result: "pass", domain: "mail.example.org", identity: "helo" });
  assert.match(verdict.authenticationResultsHeader, /spf=pass smtp\.helo=mail\.example\.org;/);
  assert.doesNotMatch(verdict.authenticationResultsHeader, /smtp\.mailfrom/);
});

test("DMARC passes through aligned DKIM alone (forwarded mail, SPF fails)", async () => {
  const verdict = await verifyInbound(request({ message: await signedMessage(), clientIp: "198.51.100.7", mailFrom: "bounces@forwarder.com" }));
  assert.equal(verdict.spf.result, "none");
  assert.equal(verdict.dkim[0]?.result, "pass");
  assert.equal(verdict.dmarc.result, "pass");
});

test("DMARC passes through aligned SPF alone (unsigned mail), relaxed alignment with a subdomain", async () => {
  const table = zone("v=DMARC1; p=reject", { "bounce.example.org": { TXT: [["v=spf1 ip4:192.0.2.0/24 -all"]] } });
  const verdict = await verifyInbound(request({ message: message(), mailFrom: "b-123@bounce.example.org", resolver: createTableResolver(table) }));
  assert.deepEqual(verdict.dkim, []);
  assert.match(verdict.authenticationResultsHeader, /\tdkim=none;/);
  assert.equal(verdict.spf.result, "pass");
  assert.equal(verdict.dmarc.result, "pass");
});

test("DMARC fails when the only passes are for other domains; policy and pct come from the record", async () => {
  const cases: [string, "reject" | "quarantine" | "none", number][] = [
    ["v=DMARC1; p=reject", "reject", 100],
    ["v=DMARC1; p=quarantine; pct=25", "quarantine", 25],
    ["v=DMARC1; p=none; rua=mailto:d@example.org", "none", 100],
    ["v=DMARC1; p=bogus", "none", 100],
  ];
  for (const [record, policy, percent] of cases) {
    // SPF passes for the envelope domain other.com and DKIM for other.com: neither is example.org.
    const table = zone(record, { "other.com": { TXT: [["v=spf1 ip4:192.0.2.0/24 -all"]] } });
    const verdict = await verifyInbound(request({ message: message(), mailFrom: "x@other.com", resolver: createTableResolver(table) }));
    assert.equal(verdict.spf.result, "pass", record);
    assert.deepEqual(verdict.dmarc, { result: "fail", policy, domain: "example.org", percent }, record);
  }
});

test("a subdomain without its own record gets the organisational domain's sp= policy", async () => {
  const policyFor = async (record: string) => {
    const table = zone(record);
    const verdict = await verifyInbound(request({ message: message("news@news.example.org"), clientIp: "198.51.100.7", resolver: createTableResolver(table) }));
    assert.equal(verdict.dmarc.domain, "news.example.org");
    assert.equal(verdict.dmarc.result, "fail");
    return verdict.dmarc.policy;
  };
  assert.equal(await policyFor("v=DMARC1; p=none; sp=reject"), "reject");
  assert.equal(await policyFor("v=DMARC1; p=reject; sp=quarantine"), "quarantine");
  assert.equal(await policyFor("v=DMARC1; p=reject"), "reject");
});

test("no DMARC record: dmarc=none with no policy; several From domains: permerror", async () => {
  const none = await verifyInbound(request({ message: message(), resolver: createTableResolver(zone(null)) }));
  assert.deepEqual(none.dmarc, { result: "none", policy: null, domain: "example.org", percent: 100 });
  const several = await verifyInbound(request({ message: message("alice@example.org, mallory@evil.com") }));
  assert.equal(several.dmarc.result, "permerror");
});

test("DNS timeouts become temperror, not exceptions", async () => {
  const everythingTimesOut = createTableResolver({
    "example.org": { TXT: { fail: "ETIMEOUT" } },
    "sel._domainkey.example.org": { TXT: { fail: "ETIMEOUT" } },
    "_dmarc.example.org": { TXT: { fail: "ETIMEOUT" } },
  });
  const verdict = await verifyInbound(request({ message: await signedMessage(), resolver: everythingTimesOut }));
  assert.equal(verdict.spf.result, "temperror");
  assert.equal(verdict.dkim[0]?.result, "temperror");
  assert.equal(verdict.dmarc.result, "temperror");
  assert.match(verdict.authenticationResultsHeader, /spf=temperror/);
  assert.match(verdict.authenticationResultsHeader, /dmarc=temperror/);
});

test("an evaluation slower than deadlineMs gives a temperror verdict on time", async () => {
  const slow = createTableResolver(zone(), { delayMs: 200 });
  const started = Date.now();
  const verdict = await verifyInbound(request({ message: await signedMessage(), resolver: slow, deadlineMs: 50 }));
  assert.ok(Date.now() - started < 180, "returned before the first DNS answer");
  assert.equal(verdict.spf.result, "temperror");
  assert.equal(verdict.dmarc.result, "temperror");
  const patient = await verifyInbound(request({ message: await signedMessage(), resolver: slow, deadlineMs: 5_000 }));
  assert.equal(patient.dmarc.result, "pass");
});

test("a failing message stream gives an all-temperror verdict and a warning, never a rejection", async () => {
  const log = createMemoryLogger();
  const broken = new Readable({
    read() {
      this.destroy(new Error("connection reset"));
    },
  });
  const verdict = await verifyInbound(request({ message: broken, log }));
  assert.equal(verdict.spf.result, "temperror");
  assert.equal(verdict.dmarc.result, "temperror");
  assert.equal(verdict.arc.result, "temperror");
  assert.match(verdict.authenticationResultsHeader, /^Authentication-Results: mx\.example\.net;\r\n/);
  assert.ok(log.records.some((r) => r.level === "warn" && r.event === "mail_auth_failed"));
});

test("hostile HELO and MAIL FROM cannot inject header lines into Authentication-Results", async () => {
  const hostile = [
    { mailFrom: 'x"\r\nX-Injected: yes\r\n@example.org', heloName: "h" },
    { mailFrom: "", heloName: "evil\r\n\r\nX-Injected: yes" },
    { mailFrom: "a@b.com;\ndkim=pass header.d=bank.com", heloName: "h" },
    { mailFrom: "", heloName: 'q"\\"\r\n' },
  ];
  for (const envelope of hostile) {
    const verdict = await verifyInbound(request({ message: message(), ...envelope, receivingHost: "mx.example.net\r\nX-Evil: 1" }));
    const header = verdict.authenticationResultsHeader;
    assert.ok(header.endsWith("\r\n"));
    const lines = header.slice(0, -2).split("\r\n");
    assert.match(lines[0] ?? "", /^Authentication-Results: /);
    for (const line of lines.slice(1)) assert.match(line, /^\t/, `continuation line ${JSON.stringify(line)}`);
    assert.doesNotMatch(header.replace(/\r\n/g, ""), /[\r\n]/, "no bare CR or LF");
    // The peer's text stays inside one quoted value: outside quotes there are exactly the four
    // resinfo separators and one method each.
    const unquoted = header.replace(/"(?:[^"\\]|\\.)*"/g, '""');
    assert.equal(unquoted.match(/;/g)?.length, 4, header);
    for (const method of ["dkim", "spf", "dmarc", "arc"]) assert.equal(unquoted.match(new RegExp(`\\t${method}=`, "g"))?.length, 1, header);
    assert.match(header, /Authentication-Results: "mx\.example\.netX-Evil: 1";/);
  }
});

test("null reverse path with an address-literal HELO: SPF none, the literal reported as smtp.helo", async () => {
  const verdict = await verifyInbound(request({ message: message(), mailFrom: "", heloName: "[192.0.2.25]" }));
  assert.equal(verdict.spf.result, "none");
  assert.equal(verdict.spf.identity, "helo");
  assert.match(verdict.authenticationResultsHeader, /spf=none smtp\.helo="\[192\.0\.2\.25\]";/);
});
