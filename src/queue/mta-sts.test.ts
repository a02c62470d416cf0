// MTA-STS (RFC 8461): the TXT record and policy grammars, MX pattern matching, and the lookup's
// cache (max_age, id changes, failed refreshes); routing under enforce and testing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createTableResolver, type DnsTable } from "../mail-auth/index.js";
import { resolveDestination } from "./destination.js";
import { createMtaStsLookup, mxMatches, parsePolicy, parseStsRecord, type PolicyFetcher } from "./mta-sts.js";

const POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mx.b.test\r\nmx: *.backup.b.test\r\nmax_age: 600\r\n";

test("the _mta-sts TXT record: v=STSv1 first, an id of 1-32 alphanumerics", () => {
  assert.deepEqual(parseStsRecord("v=STSv1; id=20240101T000000;"), { id: "20240101T000000" });
  assert.deepEqual(parseStsRecord("v=STSv1;id=abc"), { id: "abc" });
  assert.equal(parseStsRecord("id=abc; v=STSv1"), null, "v= must come first");
  assert.equal(parseStsRecord("v=STSv1; id=not-alnum"), null);
  assert.equal(parseStsRecord("v=spf1 -all"), null);
});

test("the policy file: required keys, modes, max_age bound, mx lines lower-cased", () => {
  assert.deepEqual(parsePolicy(POLICY), { mode: "enforce", mx: ["mx.b.test", "*.backup.b.test"], maxAge: 600 });
  assert.deepEqual(parsePolicy("version: STSv1\nmode: none\nmax_age: 0\n"), { mode: "none", mx: [], maxAge: 0 });
  assert.throws(() => parsePolicy("version: STSv2\nmode: enforce\nmx: a\nmax_age: 1"), /version/);
  assert.throws(() => parsePolicy("version: STSv1\nmode: strict\nmx: a\nmax_age: 1"), /mode/);
  assert.throws(() => parsePolicy("version: STSv1\nmode: enforce\nmx: a\nmax_age: 31557601"), /max_age/);
  assert.throws(() => parsePolicy("version: STSv1\nmode: enforce\nmax_age: 60"), /no mx/);
  assert.throws(() => parsePolicy("<html>"), /malformed/);
});

test("MX patterns: exact names, and a wildcard covers exactly one leftmost label", () => {
  assert.ok(mxMatches(["mx.b.test"], "MX.B.TEST."));
  assert.ok(mxMatches(["*.b.test"], "mx1.b.test"));
  assert.ok(!mxMatches(["*.b.test"], "a.mx1.b.test"));
  assert.ok(!mxMatches(["*.b.test"], "b.test"));
  assert.ok(!mxMatches(["mx.b.test"], "evil.test"));
});

function counter(table: Record<string, string>): { fetch: PolicyFetcher; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    fetch: async (domain) => {
      calls.push(domain);
      const body = table[domain];
      if (body === undefined) throw new Error("connection refused");
      return { status: 200, contentType: "text/plain; charset=utf-8", body };
    },
  };
}

test("the lookup fetches once per policy id, refetches on a new id, and keeps the policy for max_age", async () => {
  const records: DnsTable = { "_mta-sts.b.test": { TXT: [["v=STSv1; id=one"]] } };
  let now = 0;
  const policies: Record<string, string> = { "b.test": POLICY };
  const { fetch, calls } = counter(policies);
  const lookup = createMtaStsLookup({ resolver: (name, type) => createTableResolver(records)(name, type), fetch, clock: () => now });
  assert.equal((await lookup("b.test"))?.mode, "enforce");
  assert.equal((await lookup("B.test"))?.mode, "enforce");
  assert.deepEqual(calls, ["b.test"], "same id: the cached policy");
  records["_mta-sts.b.test"] = { TXT: [["v=STSv1; id=two"]] };
  policies["b.test"] = POLICY.replace("enforce", "testing");
  assert.equal((await lookup("b.test"))?.mode, "testing");
  assert.equal(calls.length, 2);
  // The record disappears: the cached policy stays in force until max_age runs out (RFC 8461 §5.1).
  delete records["_mta-sts.b.test"];
  now = 599_000;
  assert.equal((await lookup("b.test"))?.mode, "testing");
  now = 601_000;
  assert.equal(await lookup("b.test"), null);
  assert.equal(await lookup("nosts.test"), null);
});

test("a failed refresh keeps the cached policy; a bad answer with nothing cached means no policy", async () => {
  const records: DnsTable = { "_mta-sts.b.test": { TXT: [["v=STSv1; id=one"]] }, "_mta-sts.c.test": { TXT: [["v=STSv1; id=x"]] } };
  const policies: Record<string, string> = { "b.test": POLICY };
  const events: string[] = [];
  const lookup = createMtaStsLookup({ resolver: (name, type) => createTableResolver(records)(name, type), fetch: counter(policies).fetch, log: (event) => events.push(event) });
  assert.equal((await lookup("b.test"))?.mode, "enforce");
  records["_mta-sts.b.test"] = { TXT: [["v=STSv1; id=two"]] };
  delete policies["b.test"];
  assert.equal((await lookup("b.test"))?.mode, "enforce");
  assert.equal(await lookup("c.test"), null);
  assert.deepEqual(events, ["mta_sts.fetch_failed", "mta_sts.fetch_failed"]);
  const wrongType = createMtaStsLookup({ resolver: createTableResolver(records), fetch: async () => ({ status: 200, contentType: "text/html", body: POLICY }) });
  assert.equal(await wrongType("b.test"), null, "RFC 8461 §3.3: only text/plain");
  const notFound = createMtaStsLookup({ resolver: createTableResolver(records), fetch: async () => ({ status: 404, contentType: "text/plain", body: POLICY }) });
  assert.equal(await notFound("b.test"), null);
});

test("routing: enforce keeps only the named MX hosts, with verified required TLS; none named defers; testing only reports", async () => {
  const resolver = createTableResolver({ "b.test": { MX: [{ exchange: "mx.b.test", priority: 10 }, { exchange: "rogue.test", priority: 5 }] } });
  const base = { resolver, remotePort: 25, requireTls: false, routes: {}, smarthost: null, random: () => 0 };
  const enforce = await resolveDestination("b.test", { ...base, mtaSts: async () => parsePolicy(POLICY) });
  // mxAuthenticated: the policy names this MX (RFC 8689 REQUIRETLS); tlsPolicy: what TLS-RPT counts under.
  const tlsPolicy = { type: "sts", domain: "b.test", strings: ["version: STSv1", "mode: enforce", "mx: mx.b.test", "mx: *.backup.b.test", "max_age: 600"], mxHost: ["mx.b.test", "*.backup.b.test"] };
  assert.deepEqual(enforce, { kind: "hosts", via: "mx", hosts: [{ name: "mx.b.test", port: 25, tls: "required", auth: null, verifyCertificate: true, mxAuthenticated: "mta-sts", tlsPolicy }] });
  const nowhere = await resolveDestination("b.test", { ...base, mtaSts: async () => parsePolicy(POLICY.replace(/mx: .*\r\n/g, "mx: other.test\r\n")) });
  assert.equal(nowhere.kind, "unreachable");
  assert.ok(nowhere.kind === "unreachable" && !nowhere.permanent && nowhere.status === "4.7.5");
  const events: string[] = [];
  const testing = await resolveDestination("b.test", { ...base, mtaSts: async () => parsePolicy(POLICY.replace("enforce", "testing")), onPolicyEvent: (event) => events.push(event) });
  assert.deepEqual(testing.kind === "hosts" && testing.hosts.map((h) => [h.name, h.tls, h.verifyCertificate]), [["rogue.test", "opportunistic", undefined], ["mx.b.test", "opportunistic", undefined]]);
  assert.deepEqual(events, ["mta_sts.testing_mismatch"]);
});
