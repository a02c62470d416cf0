// decideDmarcAction: each configured mode against each published policy, pct= sampling, and the
// treatment of mail that claims one of our own domains.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AuthVerdict, DmarcPolicy, DmarcResult } from "./verify-inbound.js";
import { decideDmarcAction } from "./dmarc-action.js";

function verdict(result: DmarcResult, policy: DmarcPolicy | null, changes: Partial<AuthVerdict> = {}, percent = 100): AuthVerdict {
  return {
    spf: { result: "fail", domain: "example.org", identity: "mailfrom" },
    dkim: [],
    dmarc: { result, policy, domain: "example.org", percent },
    arc: { result: "none" },
    authenticationResultsHeader: "Authentication-Results: mx.example.net; none\r\n",
    ...changes,
  };
}

test("follow-policy applies the published policy to DMARC failures", () => {
  const reject = decideDmarcAction(verdict("fail", "reject"));
  assert.equal(reject.action, "reject");
  if (reject.action === "reject") {
    assert.equal(reject.reply.code, 550);
    assert.equal(reject.reply.enhancedCode, "5.7.26");
    assert.match(reject.reply.text, /example\.org/);
  }
  assert.equal(decideDmarcAction(verdict("fail", "quarantine"), { mode: "follow-policy" }).action, "quarantine");
  assert.deepEqual(decideDmarcAction(verdict("fail", "none")), { action: "accept" });
});

test("the configured mode overrides the published policy for failures", () => {
  for (const policy of ["none", "quarantine", "reject"] as const) {
    assert.equal(decideDmarcAction(verdict("fail", policy), { mode: "reject" }).action, "reject", policy);
    assert.equal(decideDmarcAction(verdict("fail", policy), { mode: "quarantine" }).action, "quarantine", policy);
    assert.equal(decideDmarcAction(verdict("fail", policy), { mode: "none" }).action, "accept", policy);
  }
});

test("anything but a DMARC fail is accepted, whatever the mode", () => {
  for (const result of ["pass", "none", "temperror", "permerror"] as const) {
    for (const mode of ["follow-policy", "reject", "quarantine", "none"] as const) {
      assert.deepEqual(decideDmarcAction(verdict(result, result === "pass" ? "reject" : null), { mode }), { action: "accept" }, `${result} ${mode}`);
    }
  }
});

test("pct= below 100: sampled failures get the policy, the rest the next milder one", () => {
  const sampled = { random: () => 0.1 };
  const notSampled = { random: () => 0.9 };
  assert.equal(decideDmarcAction(verdict("fail", "reject", {}, 50), sampled).action, "reject");
  assert.equal(decideDmarcAction(verdict("fail", "reject", {}, 50), notSampled).action, "quarantine");
  assert.equal(decideDmarcAction(verdict("fail", "quarantine", {}, 50), notSampled).action, "accept");
  assert.equal(decideDmarcAction(verdict("fail", "reject", {}, 0), sampled).action, "quarantine");
  let asked = false;
  decideDmarcAction(verdict("fail", "reject"), { random: () => ((asked = true), 0) });
  assert.equal(asked, false, "pct=100 needs no random number");
});

test("our own domain without a DMARC record and without authentication is quarantined by default", () => {
  const localDomains = (domain: string) => domain === "example.org";
  const spoof = verdict("none", null);
  const decided = decideDmarcAction(spoof, { localDomains });
  assert.equal(decided.action, "quarantine");
  if (decided.action === "quarantine") assert.match(decided.reason, /example\.org/);
  assert.equal(decideDmarcAction(spoof, { localDomains, unauthenticatedLocalSender: "reject" }).action, "reject");
  assert.equal(decideDmarcAction(spoof, { localDomains, unauthenticatedLocalSender: "accept" }).action, "accept");
  assert.equal(decideDmarcAction(spoof).action, "accept", "without localDomains nothing is local");
  assert.equal(decideDmarcAction(verdict("none", null, { dmarc: { result: "none", policy: null, domain: "other.com", percent: 100 } }), { localDomains }).action, "accept");
});

test("a client in the trusted networks is exempt from the own-domain verdict, not from a published policy", () => {
  const localDomains = (domain: string) => domain === "example.org";
  assert.equal(decideDmarcAction(verdict("none", null), { localDomains, trustedClient: true }).action, "accept");
  assert.equal(decideDmarcAction(verdict("none", null), { localDomains, trustedClient: true, unauthenticatedLocalSender: "reject" }).action, "accept");
  assert.equal(decideDmarcAction(verdict("fail", "reject"), { localDomains, trustedClient: true }).action, "reject");
});

test("our own domain authenticated by SPF or an aligned DKIM pass is accepted", () => {
  const localDomains = (domain: string) => domain === "example.org";
  const viaSpf = verdict("none", null, { spf: { result: "pass", domain: "bounce.example.org", identity: "mailfrom" } });
  assert.equal(decideDmarcAction(viaSpf, { localDomains }).action, "accept");
  const viaDkim = verdict("none", null, { dkim: [{ result: "pass", domain: "example.org", selector: "s", aligned: true }] });
  assert.equal(decideDmarcAction(viaDkim, { localDomains }).action, "accept");
  const otherDkim = verdict("none", null, { dkim: [{ result: "pass", domain: "evil.com", selector: "s", aligned: false }] });
  assert.equal(decideDmarcAction(otherDkim, { localDomains }).action, "quarantine");
  const failedDkim = verdict("none", null, { dkim: [{ result: "fail", domain: "example.org", selector: "s", aligned: true }] });
  assert.equal(decideDmarcAction(failedDkim, { localDomains }).action, "quarantine");
});

test("our own domain that publishes DMARC is treated as its policy says", () => {
  const localDomains = () => true;
  assert.equal(decideDmarcAction(verdict("fail", "reject"), { localDomains }).action, "reject");
  assert.equal(decideDmarcAction(verdict("fail", "none"), { localDomains }).action, "accept");
  assert.equal(decideDmarcAction(verdict("pass", "reject"), { localDomains }).action, "accept");
});

test("a hostile From domain cannot put control characters into the reply or reason", () => {
  const hostile = verdict("fail", "reject", { dmarc: { result: "fail", policy: "reject", domain: "evil.com\r\n250 OK", percent: 100 } });
  const decided = decideDmarcAction(hostile);
  assert.equal(decided.action, "reject");
  if (decided.action === "reject") assert.doesNotMatch(decided.reply.text, /[\r\n]/);
  const quarantined = decideDmarcAction(hostile, { mode: "quarantine" });
  if (quarantined.action === "quarantine") assert.doesNotMatch(quarantined.reason, /[\r\n ]250/);
});
