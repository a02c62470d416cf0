// iprev (RFC 8601 §3): pass only when a PTR name resolves back to the client address.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createTableResolver } from "../mail-auth/index.js";
import { checkIprev } from "./iprev.js";

const resolver = createTableResolver({
  "10.2.0.192.in-addr.arpa": { PTR: ["mx.good.test"] },
  "mx.good.test": { A: ["192.0.2.10"] },
  "11.2.0.192.in-addr.arpa": { PTR: ["liar.test"] },
  "liar.test": { A: ["198.51.100.1"] },
  "12.2.0.192.in-addr.arpa": { PTR: ["broken.test", "second.test"] },
  "broken.test": { A: { fail: "ESERVFAIL" } },
  "second.test": { A: ["198.51.100.2"] },
  "13.2.0.192.in-addr.arpa": { PTR: { fail: "ETIMEOUT" } },
  "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa": { PTR: ["v6.good.test."] },
  "v6.good.test": { AAAA: ["2001:0db8:0000:0000:0000:0000:0000:0001"] },
});

test("pass: the PTR name resolves back to the address (IPv4 and IPv6, any spelling)", async () => {
  assert.deepEqual(await checkIprev(resolver, "192.0.2.10", 1000), { result: "pass", hostname: "mx.good.test" });
  assert.deepEqual(await checkIprev(resolver, "::ffff:192.0.2.10", 1000), { result: "pass", hostname: "mx.good.test" });
  assert.deepEqual(await checkIprev(resolver, "2001:db8::1", 1000), { result: "pass", hostname: "v6.good.test" });
});

test("fail: no PTR record, or no name maps back", async () => {
  assert.deepEqual(await checkIprev(resolver, "192.0.2.99", 1000), { result: "fail", hostname: null });
  assert.deepEqual(await checkIprev(resolver, "192.0.2.11", 1000), { result: "fail", hostname: "liar.test" });
});

test("temperror: a lookup that failed might have confirmed the name", async () => {
  assert.equal((await checkIprev(resolver, "192.0.2.12", 1000)).result, "temperror");
  assert.equal((await checkIprev(resolver, "192.0.2.13", 1000)).result, "temperror");
  assert.equal((await checkIprev(resolver, "nonsense", 1000)).result, "permerror");
});
