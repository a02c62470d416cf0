// `mailroom dns check <domain>` through the real binary against the loopback DNS server (UDP, as
// node's resolver asks): a half-done zone gives one line per record saying ok, missing or differs
// (with what was found) and exit status 1; the zone built from `mailroom dns`'s own output then
// checks all ok with status 0.
import assert from "node:assert/strict";
import { test } from "node:test";
import { startDnsServer, type DnsServerTable } from "../harness/dns-server.js";
import { makeScratch, runMailroom } from "../harness/mailroom-process.js";

const HOST_V4 = "192.0.2.10";
const HOST_V6 = "2001:db8::10";
const PTR_V4 = "10.2.0.192.in-addr.arpa";
// RFC 3596 §2.5: the 32 nibbles of 2001:0db8:0000:...:0010, reversed.
const PTR_V6 = `${"20010db8000000000000000000000010".split("").reverse().join(".")}.ip6.arpa`;

function config(dnsPort: number): string {
  return `[auth]
argon2_memory_kib = 1024
argon2_time_cost = 1
[server]
hostname = "mx.example.org"
[outbound]
dns_servers = ["127.0.0.1:${dnsPort}"]
[[listeners]]
protocol = "smtp"
[[listeners]]
protocol = "submission"
port = 2587
[[listeners]]
protocol = "imaps"
port = 10993
`;
}

/** The zone `mailroom dns` prints, as the DNS server's table (the host's addresses and PTRs added). */
function zoneFrom(printed: string): DnsServerTable {
  const table: DnsServerTable = {};
  const entry = (owner: string) => (table[owner.replace(/\.$/, "")] ??= {});
  for (const line of printed.split("\n")) {
    const match = /^(\S+)\s+3600 IN (\w+)\s+(.*)$/.exec(line);
    if (match === null) continue;
    const [, owner, type, value] = match as unknown as [string, string, string, string];
    if (type === "MX") {
      const [priority, exchange] = value.split(" ");
      ((entry(owner).MX ??= []) as { priority: number; exchange: string }[]).push({ priority: Number(priority), exchange: exchange!.replace(/\.$/, "") });
    } else if (type === "TXT") {
      const strings = [...value.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, "$1"));
      ((entry(owner).TXT ??= []) as string[][]).push(strings);
    } else if (type === "SRV") {
      const [priority, weight, port, name] = value.split(" ");
      if (name === ".") continue; // "not offered": publish nothing, which says the same
      (entry(owner).SRV ??= []).push({ priority: Number(priority), weight: Number(weight), port: Number(port), name: name!.replace(/\.$/, "") });
    } else if (type === "CNAME") {
      (entry(owner).CNAME ??= []).push(value.replace(/\.$/, ""));
    }
  }
  entry("mx.example.org.").A = [HOST_V4];
  entry("mx.example.org.").AAAA = [HOST_V6];
  table[PTR_V4] = { PTR: ["mx.example.org"] };
  table[PTR_V6] = { PTR: ["mx.example.org"] };
  return table;
}

test("mailroom dns check: missing and different records named one per line with exit 1; the printed zone checks ok", async () => {
  const half: DnsServerTable = {
    "example.org": { MX: [{ priority: 10, exchange: "mx.example.org" }], TXT: [["v=spf1 -all"]] },
    "_dmarc.example.org": { TXT: [["v=DMARC1; p=reject; rua=mailto:dmarc@example.org"]] },
    "_mta-sts.example.org": { TXT: [["v=STSv1; id=20240101"]] },
    "_submission._tcp.example.org": { SRV: [{ priority: 10, weight: 1, port: 2587, name: "mx.example.org" }] },
    "_pop3._tcp.example.org": { SRV: [{ priority: 0, weight: 1, port: 110, name: "old.example.net" }] },
    "autoconfig.example.org": { CNAME: ["mx.example.org"] },
    "autodiscover.example.org": { A: [HOST_V4] },
    "mx.example.org": { A: [HOST_V4], AAAA: [HOST_V6] },
    [PTR_V4]: { PTR: ["mx.example.org"] },
    [PTR_V6]: { PTR: ["customer-10.isp.example.net"] },
  };
  const dns = await startDnsServer(half);
  const s = await makeScratch(config(dns.port));
  try {
    assert.equal((await runMailroom(["domain", "add", "example.org", "--init"], { env: s.env })).code, 0);
    const checked = await runMailroom(["dns", "check", "example.org"], { env: s.env });
    assert.equal(checked.code, 1, checked.stdout + checked.stderr);
    const lines = checked.stdout.trimEnd().split("\n");
    const verdict = (type: string, owner: string) => {
      const line = lines.find((l) => l.split(/\s+/)[1] === type && l.split(/\s+/)[2] === owner);
      assert.ok(line, `no line for ${type} ${owner}:\n${checked.stdout}`);
      return line;
    };
    assert.match(verdict("MX", "example.org."), /^ok /);
    assert.match(verdict("TXT", "example.org."), /^differs .*"v=spf1 -all"/);
    assert.match(checked.stdout, /^missing\s+TXT\s+mailroom[^ ]*\._domainkey\.example\.org\./m, "the DKIM keys made by domain add are not published");
    assert.match(verdict("TXT", "_dmarc.example.org."), /^ok .*p=reject/, "any DMARC policy is the operator's choice");
    assert.match(verdict("TXT", "_mta-sts.example.org."), /^differs .*id=20240101, but the policy served now has id=/);
    assert.match(verdict("TXT", "_smtp._tls.example.org."), /^missing /);
    assert.match(verdict("SRV", "_submission._tcp.example.org."), /^ok /);
    assert.match(verdict("SRV", "_imaps._tcp.example.org."), /^missing .*0 1 10993 mx\.example\.org\./);
    assert.match(verdict("SRV", "_imap._tcp.example.org."), /^ok .*not offered/);
    assert.match(verdict("SRV", "_pop3._tcp.example.org."), /^differs .*old\.example\.net\.:110/);
    assert.match(verdict("CNAME", "autoconfig.example.org."), /^ok /);
    assert.match(verdict("CNAME", "autodiscover.example.org."), /^ok .*the host's/);
    assert.match(verdict("CNAME", "mta-sts.example.org."), /^missing /);
    assert.match(verdict("PTR", HOST_V4), /^ok /);
    assert.match(verdict("PTR", HOST_V6), /^differs .*customer-10\.isp\.example\.net/);
    assert.match(checked.stderr, /checks are not ok/);
    assert.ok(dns.log.some((q) => q.startsWith("SRV ")), "SRV asked over the wire");

    // The zone exactly as `mailroom dns` prints it: everything checks ok.
    const printed = await runMailroom(["dns", "example.org"], { env: s.env });
    assert.equal(printed.code, 0, printed.stderr);
    dns.setTable(zoneFrom(printed.stdout));
    const clean = await runMailroom(["dns", "check", "example.org"], { env: s.env });
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    const cleanLines = clean.stdout.trimEnd().split("\n");
    assert.ok(cleanLines.length >= 15);
    assert.ok(cleanLines.every((line) => line.startsWith("ok ")), clean.stdout);

    // A DNS server that does not answer: "error", never "missing".
    dns.setTable({ "example.org": { MX: { fail: "ESERVFAIL" } } });
    const broken = await runMailroom(["dns", "check", "example.org"], { env: s.env });
    assert.equal(broken.code, 1);
    assert.match(broken.stdout, /^error\s+MX\s+example\.org\.\s+cannot ask: ESERVFAIL/m);
  } finally {
    await s.cleanup();
    await dns.close();
  }
});
