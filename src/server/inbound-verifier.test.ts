import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { createTableResolver } from "../mail-auth/index.js";
import { silentLogger } from "../observability/log.js";
import type { InboundSettings } from "../config/index.js";
import { createInboundVerifier } from "./inbound-verifier.js";

// spoofed.example publishes p=reject and only lets 192.0.2.0/24 send; the client is elsewhere.
const resolver = createTableResolver({
  "spoofed.example": { TXT: [["v=spf1 ip4:192.0.2.0/24 -all"]] },
  "_dmarc.spoofed.example": { TXT: [["v=DMARC1; p=reject"]] },
  "example.org": { TXT: [["v=spf1 -all"]] },
});

async function verdictFor(from: string, policy?: Omit<InboundSettings, "tlsReportMaxSize">, clientIp = "198.51.100.7") {
  const message = Buffer.from(`From: <${from}>\r\nTo: <alice@example.org>\r\nSubject: hi\r\n\r\nbody\r\n`);
  const verifier = createInboundVerifier({ accounts: { listDomains: async () => [{ id: 1 as never, name: "example.org", createdAt: new Date() }] }, resolver, log: silentLogger, ...(policy ? { policy } : {}) });
  return verifier.verify({ open: () => Readable.from([message]), size: message.length, clientIp, heloName: "mx.attacker.example", mailFrom: from, receivingHost: "mx.example.org" });
}

test("by default a DMARC failure follows the sender domain's policy (p=reject → reject)", async () => {
  const verdict = await verdictFor("ceo@spoofed.example");
  assert.equal(verdict.action, "reject");
  assert.match(verdict.authenticationResults, /^mx\.example\.org;/);
  assert.match(verdict.authenticationResults, /dmarc=fail/);
  assert.match(verdict.authenticationResults, /spf=fail/);
});

test("[inbound] dmarc_failure_mode overrides the published policy", async () => {
  assert.equal((await verdictFor("ceo@spoofed.example", { dmarcFailureMode: "quarantine", ownDomainUnauthenticated: "quarantine", trustedNetworks: [] })).action, "quarantine");
  assert.equal((await verdictFor("ceo@spoofed.example", { dmarcFailureMode: "none", ownDomainUnauthenticated: "quarantine", trustedNetworks: [] })).action, "accept");
});

test("unauthenticated mail claiming our own domain is quarantined, or as [inbound] own_domain_unauthenticated says", async () => {
  assert.equal((await verdictFor("boss@example.org")).action, "quarantine");
  assert.equal((await verdictFor("boss@example.org", { dmarcFailureMode: "follow-policy", ownDomainUnauthenticated: "reject", trustedNetworks: [] })).action, "reject");
  assert.equal((await verdictFor("boss@example.org", { dmarcFailureMode: "follow-policy", ownDomainUnauthenticated: "accept", trustedNetworks: [] })).action, "accept");
});

test("a client in inbound.trusted_networks (loopback by default) is exempt from the own-domain verdict, and only that", async () => {
  const fromLoopback = await verdictFor("cron@example.org", undefined, "127.0.0.1");
  assert.deepEqual([fromLoopback.action, fromLoopback.reason], ["accept", null]);
  assert.equal((await verdictFor("cron@example.org", undefined, "::ffff:127.0.0.1")).action, "accept");
  const office = { dmarcFailureMode: "follow-policy", ownDomainUnauthenticated: "reject", trustedNetworks: ["198.51.100.0/24"] } as const;
  assert.equal((await verdictFor("boss@example.org", { ...office, trustedNetworks: [...office.trustedNetworks] })).action, "accept");
  // A published reject policy still applies to trusted clients.
  assert.equal((await verdictFor("ceo@spoofed.example", undefined, "127.0.0.1")).action, "reject");
  const outside = await verdictFor("boss@example.org");
  assert.equal(outside.action, "quarantine");
  assert.match(outside.reason ?? "", /local domain example\.org without SPF or DKIM/);
});
