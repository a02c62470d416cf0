// Where a domain's mail goes (RFC 5321 §5.1, RFC 7505), decided from a table of DNS answers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createTableResolver } from "../mail-auth/index.js";
import { resolveDestination, resolveHostAddresses, type RoutingOptions } from "./destination.js";

const resolver = createTableResolver({
  "multi.example": { MX: [{ exchange: "mx2.multi.example", priority: 20 }, { exchange: "MX1.multi.example.", priority: 10 }, { exchange: "mx1.multi.example", priority: 10 }] },
  "nomx.example": { A: ["192.0.2.10"], AAAA: ["2001:db8::10"] },
  "nullmx.example": { MX: [{ exchange: "", priority: 0 }] },
  "broken.example": { MX: { fail: "ESERVFAIL" } },
  "slow.example": { A: { fail: "ETIMEOUT" } },
  "v6only.example": { AAAA: ["2001:db8::6"] },
});

const options = (extra: Partial<RoutingOptions> = {}): RoutingOptions => ({ resolver, remotePort: 25, requireTls: false, routes: {}, smarthost: null, random: () => 0.5, ...extra });

test("MX hosts by preference, each once, with opportunistic TLS on port 25", async () => {
  const d = await resolveDestination("multi.example", options());
  assert.equal(d.kind, "hosts");
  assert.deepEqual(d.kind === "hosts" && d.hosts.map((h) => [h.name, h.port, h.tls]), [["mx1.multi.example", 25, "opportunistic"], ["mx2.multi.example", 25, "opportunistic"]]);
});

test("no MX record: the domain itself is the host (the A/AAAA fallback of RFC 5321 §5.1)", async () => {
  const d = await resolveDestination("nomx.example", options());
  assert.equal(d.kind === "hosts" && d.via, "implicit-mx");
  assert.deepEqual(d.kind === "hosts" && d.hosts.map((h) => h.name), ["nomx.example"]);
  assert.deepEqual(await resolveHostAddresses("nomx.example", resolver), { kind: "addresses", addresses: ["192.0.2.10", "2001:db8::10"] });
  assert.deepEqual(await resolveHostAddresses("v6only.example", resolver), { kind: "addresses", addresses: ["2001:db8::6"] });
});

test("null MX, NXDOMAIN and a missing host are permanent; DNS trouble is temporary", async () => {
  const nullMx = await resolveDestination("nullmx.example", options());
  assert.deepEqual(nullMx.kind === "unreachable" && [nullMx.permanent, nullMx.status], [true, "5.1.10"]);
  const nx = await resolveDestination("nowhere.example", options());
  assert.deepEqual(nx.kind === "unreachable" && [nx.permanent, nx.status], [true, "5.1.2"]);
  const servfail = await resolveDestination("broken.example", options());
  assert.deepEqual(servfail.kind === "unreachable" && [servfail.permanent, servfail.status], [false, "4.4.3"]);
  assert.deepEqual(await resolveHostAddresses("multi.example", resolver).then((r) => r.kind === "none" && r.permanent), true);
  assert.deepEqual(await resolveHostAddresses("slow.example", resolver).then((r) => r.kind === "none" && r.permanent), false);
});

test("a smarthost or a static route wins over MX; require_tls makes TLS mandatory", async () => {
  const viaSmarthost = await resolveDestination("multi.example", options({ smarthost: { host: "relay.example", port: 587, tls: "starttls", auth: null } }));
  assert.deepEqual(viaSmarthost.kind === "hosts" && [viaSmarthost.via, viaSmarthost.hosts[0]?.name, viaSmarthost.hosts[0]?.tls], ["smarthost", "relay.example", "required"]);
  const viaRoute = await resolveDestination("Multi.Example", options({ routes: { "multi.example": { host: "10.0.0.5", port: 2525 } }, requireTls: true }));
  assert.deepEqual(viaRoute.kind === "hosts" && [viaRoute.via, viaRoute.hosts[0]?.port, viaRoute.hosts[0]?.tls], ["route", 2525, "required"]);
  const literal = await resolveDestination("[192.0.2.7]", options());
  assert.deepEqual(literal.kind === "hosts" && literal.hosts.map((h) => h.name), ["192.0.2.7"]);
});
