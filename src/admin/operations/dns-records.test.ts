import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultListeners, parseConfigText } from "../../config/index.js";
import { clientSrvRecords, renderDnsRecords } from "./dns-records.js";

const srvLines = (zone: string) => zone.split("\n").filter((l) => / IN SRV /.test(l)).map((l) => l.replace(/\s+3600 IN SRV\s+/, " "));

test("default listeners: implicit TLS at priority 0 before STARTTLS at 10, for submission, IMAP and POP3 (RFC 8314 §5.1)", () => {
  const zone = renderDnsRecords({ domain: "example.org", hostname: "mx.example.org", dkim: [], listeners: defaultListeners() });
  assert.deepEqual(srvLines(zone), [
    "_submissions._tcp.example.org. 0 1 465 mx.example.org.",
    "_submission._tcp.example.org. 10 1 587 mx.example.org.",
    "_imaps._tcp.example.org. 0 1 993 mx.example.org.",
    "_imap._tcp.example.org. 10 1 143 mx.example.org.",
    "_pop3s._tcp.example.org. 0 1 995 mx.example.org.",
    "_pop3._tcp.example.org. 10 1 110 mx.example.org.",
  ]);
});

test("SRV records follow the configured listeners: their ports, '.' for what is not offered, nothing for cleartext or loopback", () => {
  const config = parseConfigText(
    [
      "[[listeners]]\nprotocol = \"smtp\"",
      "[[listeners]]\nprotocol = \"submissions\"\nport = 4465",
      "[[listeners]]\nprotocol = \"imaps\"\nport = 10993\naddress = \"::\"",
      "[[listeners]]\nprotocol = \"imaps\"\nport = 10993\naddress = \"0.0.0.0\"",
      "[[listeners]]\nprotocol = \"imap\"\nport = 143\naddress = \"0.0.0.0\"\ntls = \"none\"",
      "[[listeners]]\nprotocol = \"pop3\"\naddress = \"127.0.0.1\"",
    ].join("\n"),
    { hostname: "mx.example.org" },
  );
  const zone = renderDnsRecords({ domain: "Example.ORG", hostname: "MX.example.org.", dkim: [], listeners: config.listeners });
  assert.deepEqual(srvLines(zone), [
    "_submissions._tcp.example.org. 0 1 4465 mx.example.org.",
    "_submission._tcp.example.org. 0 0 0 .",
    "_imaps._tcp.example.org. 0 1 10993 mx.example.org.",
    "_imap._tcp.example.org. 0 0 0 .",
    "_pop3s._tcp.example.org. 0 0 0 .",
    "_pop3._tcp.example.org. 0 0 0 .",
  ]);
  assert.match(zone, /^; _imap\._tcp: the imap listener on 0\.0\.0\.0:143 offers no TLS \(tls = "none"\); not published \(RFC 8314 §3\)$/m);
  assert.match(zone, /^; _pop3\._tcp: the pop3 listener on 127\.0\.0\.1:110 is bound to loopback only; not published$/m);
});

test("two STARTTLS ports of one service are both published at the same priority; port 0 is not published", () => {
  const listeners = [
    { protocol: "imap", port: 143, address: "0.0.0.0", tls: "starttls" },
    { protocol: "imap", port: 1143, address: "192.0.2.10", tls: "starttls" },
    { protocol: "pop3s", port: 0, address: "0.0.0.0", tls: "implicit" },
  ] as const;
  const { records, notes } = clientSrvRecords(listeners, "mx.example.org.");
  const imap = records.filter((r) => r.service.startsWith("_imap"));
  assert.deepEqual(imap, [
    { service: "_imaps._tcp", priority: 0, weight: 0, port: 0, target: "." },
    { service: "_imap._tcp", priority: 10, weight: 1, port: 143, target: "mx.example.org." },
    { service: "_imap._tcp", priority: 10, weight: 1, port: 1143, target: "mx.example.org." },
  ]);
  assert.deepEqual(notes, ["_pop3s._tcp: the pop3s listener on 0.0.0.0:0 has no fixed port; not published"]);
});

test("autoconfig, autodiscover and mta-sts CNAMEs; the _mta-sts id follows the served policy and changes with it", () => {
  const base = { domain: "example.org", hostname: "mx.example.org", dkim: [] as [string, string][], listeners: defaultListeners() };
  const testing = renderDnsRecords({ ...base, mtaStsPolicy: ["version: STSv1", "mode: testing", "mx: mx.example.org", "max_age: 604800"] });
  for (const label of ["autoconfig", "autodiscover", "mta-sts"]) assert.match(testing, new RegExp(`^${label}\\.example\\.org\\.\\s+3600 IN CNAME\\s+mx\\.example\\.org\\.$`, "m"));
  assert.match(testing, /^; {3}mode: testing$/m);
  const enforce = renderDnsRecords({ ...base, mtaStsPolicy: ["version: STSv1", "mode: enforce", "mx: mx.example.org", "max_age: 604800"] });
  assert.match(enforce, /^; {3}mode: enforce$/m);
  const id = (zone: string) => /_mta-sts\.example\.org\.\s+3600 IN TXT\s+"v=STSv1; id=(\w+)"/.exec(zone)?.[1];
  assert.ok(id(testing) && id(enforce));
  assert.notEqual(id(testing), id(enforce));
  assert.equal(id(renderDnsRecords({ ...base, mtaStsPolicy: ["version: STSv1", "mode: enforce", "mx: mx.example.org", "max_age: 604800"] })), id(enforce));
  assert.match(testing, /^_smtp\._tls\.example\.org\.\s+3600 IN TXT\s+"v=TLSRPTv1; rua=mailto:postmaster@example\.org"$/m);
});

test("the TLS-RPT record names the https endpoint beside postmaster when reports are taken by POST (RFC 8460 §3: a comma-separated rua)", () => {
  const base = { domain: "example.org", hostname: "mx.example.org", dkim: [] as [string, string][], listeners: defaultListeners() };
  const zone = renderDnsRecords({ ...base, tlsReportUri: "https://mx.example.org/tlsrpt/v1" });
  assert.match(zone, /^_smtp\._tls\.example\.org\.\s+3600 IN TXT\s+"v=TLSRPTv1; rua=mailto:postmaster@example\.org,https:\/\/mx\.example\.org\/tlsrpt\/v1"$/m);
  assert.match(zone, /POSTed to https:\/\/mx\.example\.org\/tlsrpt\/v1/);
});

test("DANE: the TLSA records of the server's key under _25._tcp.<host>, each with its note, and the warnings", () => {
  const current = `3 1 1 ${"a".repeat(64)}`;
  const next = `3 1 1 ${"b".repeat(64)}`;
  const zone = renderDnsRecords({
    domain: "example.org",
    hostname: "mx.example.org",
    dkim: [],
    listeners: defaultListeners(),
    tlsa: { owner: "_25._tcp.mx.example.org.", records: [{ value: current, note: "key of the current ACME certificate" }, { value: next, note: "next key: publish it now" }], warnings: ["renews soon"] },
  });
  const tlsa = zone.split("\n").filter((l) => / IN TLSA /.test(l)).map((l) => l.replace(/\s+3600 IN TLSA\s+/, " "));
  assert.deepEqual(tlsa, [`_25._tcp.mx.example.org. ${current}`, `_25._tcp.mx.example.org. ${next}`]);
  assert.match(zone, /; DANE \(RFC 7672\)[^\n]*\n[^\n]*DNSSEC-signed[^\n]*\n; WARNING: renews soon\n; key of the current ACME certificate\n/);
  assert.doesNotMatch(renderDnsRecords({ domain: "example.org", hostname: "mx.example.org", dkim: [], listeners: defaultListeners() }), /TLSA/);
});
