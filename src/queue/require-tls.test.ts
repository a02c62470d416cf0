// REQUIRETLS (RFC 8689) routing decisions and the TLS-Required header, without sockets; the
// end-to-end cases are in test/e2e/outbound-requiretls.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import type { QueuedMessage } from "../store/index.js";
import type { DanePolicy } from "./dane.js";
import type { Destination, DestinationHost } from "./destination.js";
import { checkRequireTlsOffered, requireTlsDestination, routingFor, saysTlsOptional } from "./require-tls.js";
import type { SmtpClient } from "./smtp-client.js";
import { mayFallBackToPlaintext, PolicyRefusal, tlsFailureStatus, tlsRptResultType } from "./tls-outcome.js";
import { TlsFailure } from "./smtp-client.js";

const entry = (requireTls: boolean) => ({ requireTls }) as QueuedMessage;
const host = (name: string, extra: Partial<DestinationHost> = {}): DestinationHost => ({ name, port: 25, tls: "opportunistic", auth: null, ...extra });

test("REQUIRETLS keeps only authenticated MX hosts and makes them verified TLS; none left fails 5.7.10", () => {
  const mx: Destination = { kind: "hosts", via: "mx", hosts: [host("a.example", { mxAuthenticated: "mta-sts" }), host("b.example"), host("c.example", { mxAuthenticated: "dnssec" })] };
  const applied = requireTlsDestination(entry(true), "example", mx);
  assert.equal(applied.kind, "hosts");
  assert.deepEqual(applied.kind === "hosts" && applied.hosts.map((h) => [h.name, h.tls, h.verifyCertificate, h.requireTls]), [
    ["a.example", "required", true, true],
    ["c.example", "required", true, true],
  ]);
  const none = requireTlsDestination(entry(true), "example", { kind: "hosts", via: "mx", hosts: [host("b.example")] });
  assert.deepEqual(none.kind === "unreachable" && [none.permanent, none.status], [true, "5.7.10"]);
  // A smarthost is named by our configuration: no lookup to authenticate.
  const relay = requireTlsDestination(entry(true), "example", { kind: "hosts", via: "smarthost", hosts: [host("relay.test", { tls: "none" })] });
  assert.deepEqual(relay.kind === "hosts" && relay.hosts.map((h) => [h.tls, h.verifyCertificate]), [["required", true]]);
  assert.equal(requireTlsDestination(entry(false), "example", mx), mx, "untouched without REQUIRETLS");
});

test("a server without REQUIRETLS in its EHLO is refused 5.7.30, permanently", () => {
  const client = { secure: true, extensions: new Map([["PIPELINING", ""]]) } as unknown as SmtpClient;
  const strict = host("mx.example", { requireTls: true });
  assert.throws(() => checkRequireTlsOffered(strict, client), (error: unknown) => error instanceof PolicyRefusal && error.status === "5.7.30" && !error.temporary);
  assert.doesNotThrow(() => checkRequireTlsOffered(strict, { secure: true, extensions: new Map([["REQUIRETLS", ""]]) } as unknown as SmtpClient));
  assert.doesNotThrow(() => checkRequireTlsOffered(host("mx.example"), client));
});

test("TLS-Required: No is found in the header only, folded or not, any case; it turns recipient policies off unless REQUIRETLS", async () => {
  const read = (text: string) => saysTlsOptional(Readable.from([Buffer.from(text)]));
  assert.equal(await read("Received: x\r\nTLS-Required: No\r\nSubject: s\r\n\r\nbody\r\n"), true);
  assert.equal(await read("tls-required:\r\n  no\r\n\r\n"), true);
  assert.equal(await read("Subject: s\r\n\r\nTLS-Required: No\r\n"), false, "a body line is no field");
  assert.equal(await read("TLS-Required: Yes\r\n\r\n"), false);
  const routing = { resolver: async () => [], remotePort: 25, requireTls: false, routes: {}, smarthost: null, mtaSts: async () => null };
  assert.deepEqual([routingFor(entry(false), routing, true).mtaSts, routingFor(entry(false), routing, true).recipientPolicies], [null, false]);
  assert.equal(routingFor(entry(true), routing, true), routing, "REQUIRETLS wins over the header");
});

test("TLS failures: fallback only under plain opportunistic TLS; statuses and TLS-RPT result types", () => {
  assert.equal(mayFallBackToPlaintext(host("mx")), true);
  assert.equal(mayFallBackToPlaintext(host("mx", { tls: "required", verifyCertificate: true, mxAuthenticated: "mta-sts" })), false);
  assert.equal(mayFallBackToPlaintext(host("mx", { tls: "required" })), false, "require_tls, DANE");
  assert.equal(mayFallBackToPlaintext(host("mx", { requireTls: true })), false);
  assert.equal(mayFallBackToPlaintext(host("mx", { mxAuthenticated: "dnssec" })), true, "a signed MX without TLSA asks for nothing");
  const handshake = new TlsFailure("bad", "handshake", "ERR_TLS_CERT_ALTNAME_INVALID");
  assert.deepEqual(tlsFailureStatus(handshake, host("mx", { tls: "required" })), { status: "4.7.5", permanent: false });
  assert.deepEqual(tlsFailureStatus(new TlsFailure("none", "starttls", null), host("mx", { tls: "required" })), { status: "4.7.10", permanent: false });
  assert.deepEqual(tlsFailureStatus(handshake, host("mx", { requireTls: true })), { status: "5.7.10", permanent: true });
  assert.equal(tlsFailureStatus(new Error("x"), host("mx")), null);
  assert.equal(tlsRptResultType(handshake), "certificate-host-mismatch");
  assert.equal(tlsRptResultType(new TlsFailure("x", "handshake", "CERT_HAS_EXPIRED")), "certificate-expired");
  assert.equal(tlsRptResultType(new TlsFailure("x", "handshake", "DEPTH_ZERO_SELF_SIGNED_CERT")), "certificate-not-trusted");
  assert.equal(tlsRptResultType(new TlsFailure("x", "handshake", "ERR_SSL_WRONG_VERSION_NUMBER")), "validation-failure");
  assert.equal(tlsRptResultType(new TlsFailure("x", "starttls", null)), "starttls-not-supported");
});

test("REQUIRETLS with DANE: usable TLSA records stand for the valid certificate; a signed MX without them needs PKIX", () => {
  const daneHost = host("mx.dane.example", { tls: "required", mxAuthenticated: "dnssec", dane: { mode: "dane", tlsa: [], tlsaName: "_25._tcp.mx.dane.example", reason: "" } });
  const signedOnly = host("mx.signed.example", { mxAuthenticated: "dnssec", dane: { mode: "none", reason: "no TLSA records" } });
  const unusable = host("mx.pkix.example", { tls: "required", mxAuthenticated: "dnssec", dane: { mode: "encrypt", tlsa: [], tlsaName: "_25._tcp.mx.pkix.example", reason: "" } });
  const applied = requireTlsDestination(entry(true), "example", { kind: "hosts", via: "mx", hosts: [daneHost, signedOnly, unusable] });
  assert.deepEqual(applied.kind === "hosts" && applied.hosts.map((h) => [h.name, h.tls, h.verifyCertificate, h.requireTls]), [
    ["mx.dane.example", "required", false, true],
    ["mx.signed.example", "required", true, true],
    ["mx.pkix.example", "required", true, true],
  ]);
});

test("no plaintext fallback for DANE hosts; a DANE refusal is 4.7.5, or 5.7.10 under REQUIRETLS", () => {
  const dane: DanePolicy = { mode: "dane", tlsa: [], tlsaName: "_25._tcp.mx", reason: "" };
  // Even if something left the mode opportunistic, validated TLSA records forbid the fallback (RFC 7672 §2.2).
  assert.equal(mayFallBackToPlaintext(host("mx", { dane })), false);
  assert.equal(mayFallBackToPlaintext(host("mx", { dane: { mode: "encrypt", tlsa: [], tlsaName: "_25._tcp.mx", reason: "" } })), false);
  assert.equal(mayFallBackToPlaintext(host("mx", { dane: { mode: "none", reason: "" }, mxAuthenticated: "dnssec" })), true);
  const refused = new TlsFailure("mx not authenticated: no TLSA record matches", "peer", null, null, "4.7.5");
  assert.deepEqual(tlsFailureStatus(refused, host("mx", { tls: "required", dane })), { status: "4.7.5", permanent: false });
  assert.deepEqual(tlsFailureStatus(new TlsFailure("none", "starttls", null), host("mx", { tls: "required", dane })), { status: "4.7.5", permanent: false });
  assert.deepEqual(tlsFailureStatus(refused, host("mx", { tls: "required", dane, requireTls: true })), { status: "5.7.10", permanent: true });
});
