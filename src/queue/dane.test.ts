// The DANE policy decision (RFC 7672 §2.2) over scripted validating-resolver answers, and its
// place in routing: insecure MX → no DANE, failed TLSA → the host is deferred, unusable records →
// TLS mandatory, CNAME-expanded TLSA base first, DANE hosts exempt from MTA-STS (RFC 8461 §2).
import { test } from "node:test";
import assert from "node:assert/strict";
import type { DnssecAnswer, DnssecQuery } from "../net/dns-client.js";
import type { RecordData } from "../net/dns-message.js";
import { createDaneResolver, daneSession } from "./dane.js";
import { resolveDestination } from "./destination.js";
import { TlsFailure } from "./smtp-client.js";
import { tlsaText } from "./tlsa.js";

type Script = Record<string, DnssecAnswer>;

function ok(secure: boolean, records: RecordData[], canonicalName = ""): DnssecAnswer {
  return { kind: "answer", rcode: "NOERROR", secure, records, canonicalName };
}

const EE: RecordData = { type: "TLSA", tlsa: { usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32, 7) } };
const PKIX: RecordData = { type: "TLSA", tlsa: { usage: 1, selector: 1, matchingType: 1, data: Buffer.alloc(32, 7) } };

function scripted(script: Script): { query: DnssecQuery; asked: string[] } {
  const asked: string[] = [];
  const query: DnssecQuery = async (name, type) => {
    asked.push(`${type} ${name}`);
    const answer = script[`${type} ${name}`];
    if (answer === undefined) return { kind: "answer", rcode: "NOERROR", secure: true, records: [], canonicalName: name };
    return answer.kind === "answer" && answer.canonicalName === "" ? { ...answer, canonicalName: name } : answer;
  };
  return { query, asked };
}

const base: Script = {
  "MX b.test": ok(true, [{ type: "MX", preference: 10, exchange: "mx.b.test" }]),
  "A mx.b.test": ok(true, [{ type: "A", address: "192.0.2.25" }]),
  "TLSA _25._tcp.mx.b.test": ok(true, [EE]),
};

test("validated MX, addresses and TLSA with a usable record: mode dane, TLS required", async () => {
  const { query } = scripted(base);
  const dane = createDaneResolver(query);
  const destination = await resolveDestination("b.test", { resolver: dane.resolver, remotePort: 25, requireTls: false, routes: {}, smarthost: null, dane });
  assert.equal(destination.kind, "hosts");
  const [host] = destination.kind === "hosts" ? destination.hosts : [];
  assert.equal(host?.tls, "required");
  assert.equal(host?.mxAuthenticated, "dnssec", "a validated MX is RFC 8689's MX by DNSSEC");
  assert.equal(host?.dane?.mode, "dane");
  // RFC 8460 §4.4: its sessions are reported under the TLSA policy.
  assert.deepEqual(host?.tlsPolicy, { type: "tlsa", domain: "b.test", strings: [tlsaText(EE.tlsa)], mxHost: ["mx.b.test"] });
  assert.deepEqual(await dane.resolver("mx.b.test", "A"), ["192.0.2.25"]);
});

test("an insecure MX lookup means no DANE at all, and no TLSA is asked", async () => {
  const { query, asked } = scripted({ ...base, "MX b.test": ok(false, [{ type: "MX", preference: 10, exchange: "mx.b.test" }]) });
  const dane = createDaneResolver(query);
  const destination = await resolveDestination("b.test", { resolver: dane.resolver, remotePort: 25, requireTls: false, routes: {}, smarthost: null, dane });
  const [host] = destination.kind === "hosts" ? destination.hosts : [];
  assert.equal(host?.dane?.mode, "none");
  assert.equal(host?.tls, "opportunistic");
  assert.equal(host?.mxAuthenticated, undefined, "not RFC 8689's MX by DNSSEC");
  assert.ok(!asked.some((q) => q.startsWith("TLSA")));
});

test("insecure addresses or an insecure TLSA answer: no DANE; no TLSA records: no DANE", async () => {
  for (const [change, expected] of [
    [{ "A mx.b.test": ok(false, [{ type: "A", address: "192.0.2.25" }]) }, /address records .* not DNSSEC-validated/],
    [{ "TLSA _25._tcp.mx.b.test": ok(false, [EE]) }, /TLSA answer .* not DNSSEC-validated/],
    [{ "TLSA _25._tcp.mx.b.test": ok(true, []) }, /no TLSA records/],
  ] as const) {
    const dane = createDaneResolver(scripted({ ...base, ...change }).query);
    const policy = await dane.policyFor("mx.b.test", 25, true);
    assert.equal(policy.mode, "none");
    assert.match(policy.reason, expected);
  }
});

test("a failed (bogus) TLSA or address lookup defers the host; unusable records keep TLS mandatory", async () => {
  const bogus = await createDaneResolver(scripted({ ...base, "TLSA _25._tcp.mx.b.test": { kind: "failed", reason: "TLSA _25._tcp.mx.b.test: SERVFAIL" } }).query).policyFor("mx.b.test", 25, true);
  assert.ok(bogus.mode === "defer" && bogus.resultType === "tlsa-invalid");
  const noAddress = await createDaneResolver(scripted({ ...base, "A mx.b.test": { kind: "failed", reason: "SERVFAIL" } }).query).policyFor("mx.b.test", 25, true);
  assert.ok(noAddress.mode === "defer" && noAddress.resultType === "dnssec-invalid");
  const unusable = await createDaneResolver(scripted({ ...base, "TLSA _25._tcp.mx.b.test": ok(true, [PKIX]) }).query).policyFor("mx.b.test", 25, true);
  assert.equal(unusable.mode, "encrypt");
  const session = daneSession("b.test", { name: "mx.b.test", dane: unusable });
  assert.ok(session && session.verifyPeer === undefined, "TLS without authentication");
  assert.equal(session.failure(new TlsFailure("TLS required but the server does not offer STARTTLS", "starttls", null)).resultType, "starttls-not-supported");
  assert.equal(session.failure(new TlsFailure("TLS handshake with mx.b.test failed: no shared cipher", "handshake", null)).resultType, "validation-failure");
  // PKIX is only asked of such a host by REQUIRETLS; its refusal keeps its kind for TLS-RPT.
  assert.equal(session.failure(new TlsFailure("TLS handshake with mx.b.test failed: wrong name", "handshake", "ERR_TLS_CERT_ALTNAME_INVALID")).resultType, "certificate-host-mismatch");
});

test("a CNAME'd MX host: TLSA at the expanded name first, then at the original", async () => {
  const { query, asked } = scripted({
    ...base,
    "A mx.b.test": ok(true, [{ type: "A", address: "192.0.2.25" }], "real.c.test"),
    "TLSA _25._tcp.mx.b.test": ok(true, [EE]),
  });
  const policy = await createDaneResolver(query).policyFor("mx.b.test", 25, true);
  assert.ok(policy.mode === "dane" && policy.tlsaName === "_25._tcp.mx.b.test");
  assert.deepEqual(asked.filter((q) => q.startsWith("TLSA")), ["TLSA _25._tcp.real.c.test", "TLSA _25._tcp.mx.b.test"]);
});

test("MTA-STS enforce does not filter or re-verify a DANE host (RFC 8461 §2); other hosts it still governs", async () => {
  const { query } = scripted({
    ...base,
    "MX b.test": ok(true, [
      { type: "MX", preference: 10, exchange: "mx.b.test" },
      { type: "MX", preference: 20, exchange: "mx2.b.test" },
      { type: "MX", preference: 30, exchange: "mx3.b.test" },
    ]),
    "A mx2.b.test": ok(true, [{ type: "A", address: "192.0.2.26" }]),
    "A mx3.b.test": ok(true, [{ type: "A", address: "192.0.2.27" }]),
  });
  const dane = createDaneResolver(query);
  const destination = await resolveDestination("b.test", {
    resolver: dane.resolver,
    remotePort: 25,
    requireTls: false,
    routes: {},
    smarthost: null,
    dane,
    mtaSts: async () => ({ mode: "enforce", mx: ["mx2.b.test"], maxAge: 86400 }),
  });
  assert.ok(destination.kind === "hosts");
  assert.deepEqual(
    destination.hosts.map((h) => [h.name, h.dane?.mode, h.tls, h.verifyCertificate === true]),
    [
      ["mx.b.test", "dane", "required", false],
      ["mx2.b.test", "none", "required", true],
    ],
  );
  // TLS-RPT: the DANE host is reported under its TLSA records, the other under the MTA-STS policy.
  assert.deepEqual(
    destination.hosts.map((h) => [h.tlsPolicy?.type, h.mxAuthenticated]),
    [
      ["tlsa", "dnssec"],
      ["sts", "dnssec"],
    ],
  );
});

test("TLS-Required: No (recipientPolicies false): no DANE policy, TLS stays opportunistic; the MX is still known validated", async () => {
  const { query, asked } = scripted(base);
  const dane = createDaneResolver(query);
  const destination = await resolveDestination("b.test", { resolver: dane.resolver, remotePort: 25, requireTls: false, routes: {}, smarthost: null, dane, recipientPolicies: false });
  const [host] = destination.kind === "hosts" ? destination.hosts : [];
  assert.deepEqual([host?.dane, host?.tls, host?.tlsPolicy, host?.mxAuthenticated], [undefined, "opportunistic", undefined, "dnssec"]);
  assert.ok(!asked.some((q) => q.startsWith("TLSA")), "no TLSA asked");
});

test("a validated denial of MX keeps DANE for the domain itself; NXDOMAIN stays permanent", async () => {
  const { query } = scripted({
    "MX c.test": { kind: "answer", rcode: "NOERROR", secure: true, records: [], canonicalName: "c.test" },
    "A c.test": ok(true, [{ type: "A", address: "192.0.2.30" }]),
    "TLSA _25._tcp.c.test": ok(true, [EE]),
    "MX gone.test": { kind: "answer", rcode: "NXDOMAIN", secure: true, records: [], canonicalName: "gone.test" },
    "MX broken.test": { kind: "failed", reason: "MX broken.test: SERVFAIL" },
  });
  const dane = createDaneResolver(query);
  const options = { resolver: dane.resolver, remotePort: 25, requireTls: false, routes: {}, smarthost: null, dane };
  const implicit = await resolveDestination("c.test", options);
  assert.ok(implicit.kind === "hosts" && implicit.via === "implicit-mx" && implicit.hosts[0]!.dane?.mode === "dane");
  const gone = await resolveDestination("gone.test", options);
  assert.ok(gone.kind === "unreachable" && gone.permanent);
  const broken = await resolveDestination("broken.test", options);
  assert.ok(broken.kind === "unreachable" && !broken.permanent && /ESERVFAIL/.test(broken.reason));
});

test("a CNAME'd MX host whose expanded name's TLSA answer is insecure: the original name's records govern (RFC 7672 §2.2.3)", async () => {
  const { query, asked } = scripted({
    ...base,
    "A mx.b.test": ok(true, [{ type: "A", address: "192.0.2.25" }], "real.c.test"),
    "TLSA _25._tcp.real.c.test": ok(false, [EE]),
    "TLSA _25._tcp.mx.b.test": ok(true, [EE]),
  });
  const policy = await createDaneResolver(query).policyFor("mx.b.test", 25, true);
  assert.ok(policy.mode === "dane" && policy.tlsaName === "_25._tcp.mx.b.test", JSON.stringify(policy));
  assert.deepEqual(asked.filter((q) => q.startsWith("TLSA")), ["TLSA _25._tcp.real.c.test", "TLSA _25._tcp.mx.b.test"]);
});
