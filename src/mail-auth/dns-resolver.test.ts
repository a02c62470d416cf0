// DNS resolvers: the table fake's NXDOMAIN/NODATA semantics, the caching layer (hits, TTL, LRU
// bound, negative caching, no caching of temporary failures), and the system resolver's deadline
// and error codes against local UDP sockets (no network).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import type { AddressInfo } from "node:net";
import type { DnsRecordType, DnsResolver } from "./dns-resolver.js";
import { createCachingResolver, createSystemResolver, createTableResolver, isNegativeAnswer } from "./dns-resolver.js";

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return String((error as { code?: unknown }).code);
  }
  return "resolved";
}

test("table resolver answers, NXDOMAIN for unknown names, NODATA for missing types", async () => {
  const resolve = createTableResolver({
    "Example.ORG.": { TXT: [["v=spf1 ", "-all"]], MX: [{ exchange: "mx.example.org", priority: 10 }] },
    "broken.example": { TXT: { fail: "ESERVFAIL" } },
  });
  assert.deepEqual(await resolve("example.org", "TXT"), [["v=spf1 ", "-all"]]);
  assert.deepEqual(await resolve("EXAMPLE.org.", "MX"), [{ exchange: "mx.example.org", priority: 10 }]);
  assert.equal(await codeOf(resolve("example.org", "A")), "ENODATA");
  assert.equal(await codeOf(resolve("nowhere.example", "TXT")), "ENOTFOUND");
  assert.equal(await codeOf(resolve("broken.example", "TXT")), "ESERVFAIL");
  // A caller mutating an answer does not change the table.
  const mx = await resolve("example.org", "MX");
  mx.pop();
  assert.equal((await resolve("example.org", "MX")).length, 1);
});

function counting(inner: DnsResolver): { resolver: DnsResolver; calls: string[] } {
  const calls: string[] = [];
  const resolver = (<T extends DnsRecordType>(name: string, rrtype: T) => {
    calls.push(`${rrtype} ${name}`);
    return inner(name, rrtype);
  }) as DnsResolver;
  return { resolver, calls };
}

test("caching resolver reuses answers until the TTL passes", async () => {
  let now = 1_000;
  const inner = counting(createTableResolver({ "example.org": { A: ["192.0.2.1"] } }));
  const resolve = createCachingResolver(inner.resolver, { maxEntries: 10, ttlMs: 5_000, clock: () => now });
  assert.deepEqual(await resolve("example.org", "A"), ["192.0.2.1"]);
  assert.deepEqual(await resolve("EXAMPLE.org.", "A"), ["192.0.2.1"]);
  assert.equal(inner.calls.length, 1, "second lookup (same name, other case) is a hit");
  now += 4_999;
  await resolve("example.org", "A");
  assert.equal(inner.calls.length, 1);
  now += 1;
  await resolve("example.org", "A");
  assert.equal(inner.calls.length, 2, "expired entry is fetched again");
});

test("caching resolver keeps at most maxEntries, evicting the least recently used", async () => {
  const inner = counting(createTableResolver({ "a.example": { A: ["192.0.2.1"] }, "b.example": { A: ["192.0.2.2"] }, "c.example": { A: ["192.0.2.3"] } }));
  const resolve = createCachingResolver(inner.resolver, { maxEntries: 2, ttlMs: 60_000, clock: () => 0 });
  await resolve("a.example", "A");
  await resolve("b.example", "A");
  await resolve("a.example", "A"); // a is now the most recently used
  await resolve("c.example", "A"); // evicts b
  assert.equal(inner.calls.length, 3);
  await resolve("a.example", "A");
  await resolve("c.example", "A");
  assert.equal(inner.calls.length, 3, "a and c still cached");
  await resolve("b.example", "A");
  assert.deepEqual(inner.calls, ["A a.example", "A b.example", "A c.example", "A b.example"]);
});

test("caching resolver caches NXDOMAIN and NODATA but not temporary failures", async () => {
  let now = 0;
  const inner = counting(createTableResolver({ "example.org": { TXT: [["x"]] }, "slow.example": { TXT: { fail: "ETIMEOUT" } } }));
  const resolve = createCachingResolver(inner.resolver, { maxEntries: 10, ttlMs: 60_000, negativeTtlMs: 1_000, clock: () => now });
  assert.equal(await codeOf(resolve("missing.example", "TXT")), "ENOTFOUND");
  assert.equal(await codeOf(resolve("missing.example", "TXT")), "ENOTFOUND");
  assert.equal(await codeOf(resolve("example.org", "MX")), "ENODATA");
  assert.equal(await codeOf(resolve("example.org", "MX")), "ENODATA");
  assert.equal(inner.calls.length, 2, "negative answers are cached");
  now = 1_000;
  assert.equal(await codeOf(resolve("missing.example", "TXT")), "ENOTFOUND");
  assert.equal(inner.calls.length, 3, "negative TTL is separate and shorter");

  assert.equal(await codeOf(resolve("slow.example", "TXT")), "ETIMEOUT");
  assert.equal(await codeOf(resolve("slow.example", "TXT")), "ETIMEOUT");
  assert.equal(inner.calls.filter((c) => c === "TXT slow.example").length, 2, "timeouts are retried, not cached");
});

test("caching resolver shares one query among concurrent lookups and hands out copies", async () => {
  const inner = counting(createTableResolver({ "example.org": { MX: [{ exchange: "b.example.org", priority: 20 }, { exchange: "a.example.org", priority: 10 }] } }, { delayMs: 20 }));
  const resolve = createCachingResolver(inner.resolver, { maxEntries: 10, ttlMs: 60_000 });
  const [first, second] = await Promise.all([resolve("example.org", "MX"), resolve("example.org", "MX")]);
  assert.equal(inner.calls.length, 1);
  first.sort((x, y) => x.priority - y.priority);
  assert.equal(second[0]?.priority, 20, "sorting one answer leaves the other alone");
  assert.equal((await resolve("example.org", "MX"))[0]?.priority, 20, "and the cache");
});

test("caching resolver rejects a non-positive capacity", () => {
  assert.throws(() => createCachingResolver(createTableResolver({}), { maxEntries: 0, ttlMs: 1 }), RangeError);
});

test("isNegativeAnswer distinguishes 'nothing there' from 'could not ask'", () => {
  assert.equal(isNegativeAnswer({ code: "ENOTFOUND" }), true);
  assert.equal(isNegativeAnswer({ code: "ENODATA" }), true);
  assert.equal(isNegativeAnswer({ code: "ETIMEOUT" }), false);
  assert.equal(isNegativeAnswer(null), false);
});

test("system resolver gives up with ETIMEOUT at its deadline when the server never answers", async (t) => {
  const silent = createSocket("udp4");
  await new Promise<void>((done) => silent.bind(0, "127.0.0.1", done));
  t.after(() => silent.close());
  const port = (silent.address() as AddressInfo).port;
  const resolve = createSystemResolver({ timeoutMs: 300, servers: [`127.0.0.1:${port}`] });
  const started = Date.now();
  assert.equal(await codeOf(resolve("example.org", "TXT")), "ETIMEOUT");
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 250 && elapsed < 2_000, `took ${elapsed} ms`);
});

test("system resolver reports NXDOMAIN from the server as ENOTFOUND", async (t) => {
  // A minimal DNS server: echo the query back as a response with RCODE 3 (NXDOMAIN, RFC 1035 §4.1.1).
  const server = createSocket("udp4");
  server.on("message", (query, peer) => {
    const reply = Buffer.from(query);
    reply[2] = 0x81; // QR=1, opcode 0, RD=1
    reply[3] = 0x83; // RA=1, RCODE=3
    server.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((done) => server.bind(0, "127.0.0.1", done));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const resolve = createSystemResolver({ timeoutMs: 2_000, servers: [`127.0.0.1:${port}`] });
  assert.equal(await codeOf(resolve("nowhere.example", "TXT")), "ENOTFOUND");
  assert.equal(await codeOf(resolve("nowhere.example", "MX")), "ENOTFOUND");
});
