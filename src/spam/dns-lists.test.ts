// DNS list lookups (RFC 5782): query names for IPv4 and IPv6, and which answers count as a listing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createTableResolver } from "../mail-auth/index.js";
import { queryDnsList, reversedAddress } from "./dns-lists.js";

test("query names: IPv4 octets reversed, IPv6 nibbles reversed, IPv4-mapped as IPv4 (RFC 5782 §2.1, §2.4)", () => {
  assert.equal(reversedAddress("192.0.2.99"), "99.2.0.192");
  assert.equal(reversedAddress("::ffff:192.0.2.99"), "99.2.0.192");
  assert.equal(reversedAddress("2001:db8:1:2:3:4:567:89ab"), "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2");
  assert.equal(reversedAddress("2001:db8::1"), "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2");
  assert.equal(reversedAddress("::1"), `1${".0".repeat(31)}`);
  assert.equal(reversedAddress("not an address"), null);
});

const resolver = createTableResolver({
  "2.0.0.127.bl.test": { A: ["127.0.0.2"], TXT: [["listed"]] },
  "3.0.0.127.bl.test": { A: ["127.0.0.4", "127.0.0.10"] },
  "4.0.0.127.bl.test": { A: ["127.255.255.254"] },
  "5.0.0.127.bl.test": { A: ["203.0.113.7"] },
  "6.0.0.127.bl.test": { A: { fail: "ESERVFAIL" } },
  "7.0.0.127.bl.test": { TXT: [["no A record"]] },
});

test("an A record in 127.0.0.0/8 is a listing with its return codes; NXDOMAIN and NODATA are not", async () => {
  assert.deepEqual(await queryDnsList(resolver, "2.0.0.127", "bl.test", 1000), { kind: "listed", codes: ["127.0.0.2"] });
  assert.deepEqual(await queryDnsList(resolver, "3.0.0.127", "bl.test.", 1000), { kind: "listed", codes: ["127.0.0.4", "127.0.0.10"] });
  assert.deepEqual(await queryDnsList(resolver, "1.0.0.127", "bl.test", 1000), { kind: "not-listed" });
  assert.deepEqual(await queryDnsList(resolver, "7.0.0.127", "bl.test", 1000), { kind: "not-listed" });
});

test("refusal codes, answers outside 127/8, SERVFAIL and timeouts are errors, never listings", async () => {
  const refused = await queryDnsList(resolver, "4.0.0.127", "bl.test", 1000);
  assert.equal(refused.kind, "error");
  assert.match((refused as { reason: string }).reason, /refused the query \(127\.255\.255\.254\)/);
  assert.equal((await queryDnsList(resolver, "5.0.0.127", "bl.test", 1000)).kind, "error");
  assert.equal((await queryDnsList(resolver, "6.0.0.127", "bl.test", 1000)).kind, "error");
  const slow = createTableResolver({ "2.0.0.127.bl.test": { A: ["127.0.0.2"] } }, { delayMs: 500 });
  const started = Date.now();
  const answer = await queryDnsList(slow, "2.0.0.127", "bl.test", 50);
  assert.equal(answer.kind, "error");
  assert.ok(Date.now() - started < 400, "the deadline, not the slow answer, ends the lookup");
});
