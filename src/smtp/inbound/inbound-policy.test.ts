import { test } from "node:test";
import assert from "node:assert/strict";
import { parseForwardPath, type ForwardPath } from "../../mail/address.js";
import type { Alias } from "../../store/index.js";
import { testAccount } from "../session/session-fixture.js";
import type { SessionView } from "../session/types.js";
import { ACCEPT, reject, runChecks, type Check } from "./checks.js";
import { decideRecipient } from "./inbound-policy.js";
import { dmarcPolicy } from "./message-checks.js";

const alice = testAccount(1, "alice@example.org");
const full = testAccount(2, "full@example.org", { quotaBytes: 100, usedBytes: 100 });
const accounts = {
  async findAccountByAddress(address: string) {
    return [alice, full].find((a) => a.address === address.toLowerCase()) ?? null;
  },
  async findAlias(address: string): Promise<Alias | null> {
    return address === "team@example.org" ? { address, targets: ["alice@example.org"] } : null;
  },
  async isLocalDomain(domain: string) {
    return domain === "example.org";
  },
  async getAccount() {
    return null;
  },
};
const session: SessionView = { id: "s", role: "mx", hostname: "example.org", remoteAddress: "192.0.2.1", heloName: "c", esmtp: true, tls: false, tlsDetails: null, account: null };

function path(text: string): ForwardPath {
  const parsed = parseForwardPath(text);
  assert.notEqual(parsed.kind, "error", text);
  return parsed as ForwardPath;
}

const noParameters = { notify: null, orcpt: null };

async function decide(text: string, mayRelay = false) {
  return decideRecipient(accounts, session, path(text), noParameters, mayRelay);
}

test("recipient checks: local, alias and postmaster accepted; unknown, relay and tricks refused", async () => {
  const local = await decide("<Alice@example.org>");
  assert.equal(local.kind, "accept");
  assert.deepEqual(local.kind === "accept" && local.recipient.route.kind === "local" ? local.recipient.route.accounts.map((a) => a.address) : null, ["alice@example.org"]);
  assert.equal((await decide("<team@example.org>")).kind, "accept");
  const unknown = await decide("<nobody@example.org>");
  assert.deepEqual(unknown.kind === "refuse" && [unknown.reply.code, unknown.reply.enhanced], [550, "5.1.1"]);
  for (const trick of ["<alice%other.example@example.org>", "<other.example!alice@example.org>", '<"alice@other.example"@example.org>', "<@example.org:victim@other.example>", "<victim@other.example>"]) {
    const verdict = await decide(trick);
    assert.deepEqual(verdict.kind === "refuse" && [verdict.reply.code, verdict.reply.enhanced], [550, "5.7.1"], trick);
  }
  // The route is ignored, never followed (RFC 5321 §3.6.1).
  assert.equal((await decide("<@other.example:alice@example.org>")).kind, "accept");
  const postmaster = await decide("<Postmaster>");
  assert.equal(postmaster.kind, "refuse", "postmaster@example.org is not an account in this fixture");
  const full452 = await decide("<full@example.org>");
  assert.deepEqual(full452.kind === "refuse" && [full452.reply.code, full452.reply.enhanced], [452, "4.2.2"]);
  // Authenticated submission may relay, but the tricks stay refused.
  const relayed = await decide("<friend@other.example>", true);
  assert.equal(relayed.kind === "accept" && relayed.recipient.route.kind, "remote");
  assert.equal((await decide("<friend%x@other.example>", true)).kind, "refuse");
});

test("runChecks: the first reject wins, fileInto is remembered and the run goes on", async () => {
  const order: string[] = [];
  const named = (name: string, verdict: Awaited<ReturnType<Check<null>["run"]>>): Check<null> => ({
    name,
    run() {
      order.push(name);
      return verdict;
    },
  });
  const filed = await runChecks([named("a", ACCEPT), named("b", { kind: "fileInto", folder: "junk", reason: "r" }), named("c", ACCEPT)], null);
  assert.deepEqual(filed, { kind: "accept", folder: "junk", filedBy: "b", reason: "r" });
  const refused = await runChecks([named("d", { kind: "fileInto", folder: "junk", reason: "r" }), named("e", reject({ code: 550, enhanced: "5.7.1", lines: ["no"] })), named("f", ACCEPT)], null);
  assert.equal(refused.kind === "reject" && refused.check, "e");
  assert.deepEqual(order, ["a", "b", "c", "d", "e"]);
});

test("dmarc check: reject → 550 5.7.26 (RFC 7372), quarantine → Junk with the verifier's reason, verifier failure → 451, none → accept", async () => {
  const base = { authenticationResults: "x; dmarc=fail", policyDomain: "ext.example" };
  const rejected = await dmarcPolicy.run({ verification: { ...base, action: "reject", reason: "DMARC policy of the sender domain says reject" }, verificationFailed: false });
  assert.deepEqual(rejected.kind === "reject" && [rejected.reply.code, rejected.reply.enhanced, rejected.reply.lines], [550, "5.7.26", ["Message rejected: DMARC policy of the sender domain says reject"]]);
  // The reason logged is the one the verifier decided on, never a DMARC policy nobody published.
  const ownDomain = "From: claims local domain example.org without SPF or DKIM authentication";
  assert.deepEqual(await dmarcPolicy.run({ verification: { ...base, policyDomain: "example.org", action: "quarantine", reason: ownDomain }, verificationFailed: false }), { kind: "fileInto", folder: "junk", reason: ownDomain });
  const unexplained = await dmarcPolicy.run({ verification: { ...base, action: "quarantine" }, verificationFailed: false });
  assert.doesNotMatch(unexplained.kind === "fileInto" ? unexplained.reason : "", /DMARC policy/);
  const failed = await dmarcPolicy.run({ verification: null, verificationFailed: true });
  assert.equal(failed.kind === "tempfail" && failed.reply.code, 451);
  assert.equal((await dmarcPolicy.run({ verification: null, verificationFailed: false })).kind, "accept");
  assert.equal((await dmarcPolicy.run({ verification: { ...base, action: "accept" }, verificationFailed: false })).kind, "accept");
});
