// The [outbound] section: defaults, the list/table/host:port value kinds, and the checks across
// its keys, each problem naming the key.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, parseConfigText } from "./index.js";

const base = { cwd: "/srv/mail", env: {}, hostname: "mx.example.org" };

function problemsOf(source: string): string[] {
  try {
    parseConfigText(source, base);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return [...error.problems];
  }
  assert.fail("expected a ConfigError");
}

test("outbound defaults: 5 days lifetime, 4 h warning, opportunistic TLS, port 25, no smarthost", () => {
  const { outbound } = parseConfigText("", base);
  assert.equal(outbound.maxLifetime, 5 * 86_400_000);
  assert.equal(outbound.delayWarning, 4 * 3_600_000);
  assert.equal(outbound.requireTls, false);
  assert.equal(outbound.remotePort, 25);
  assert.equal(outbound.smarthost, null);
  assert.deepEqual(outbound.routes, {});
  assert.deepEqual(outbound.dnsServers, []);
  assert.deepEqual(outbound.retrySchedule, [300_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000]);
  assert.equal(outbound.dkimSelector, "mailroom");
  assert.equal(outbound.dkimKeyDir, null);
});

test("smarthost, routes, retry schedule and DNS servers are read and paths resolved", () => {
  const { outbound } = parseConfigText(
    `[outbound]
smarthost = "relay.example.net"
smarthost_username = "me"
smarthost_password_file = "secret/relay.txt"
routes = { "Example.COM" = "10.0.0.5:2525", "v6.example" = "[::1]:26" }
retry_schedule = ["1m", 120]
dns_servers = ["127.0.0.1:5353", "::1", "[::1]:5300", "192.0.2.53"]
dkim_key_dir = "keys"`,
    base,
  );
  assert.deepEqual(outbound.smarthost, { host: "relay.example.net", port: 587 });
  assert.equal(outbound.smarthostPasswordFile, "/srv/mail/secret/relay.txt");
  assert.deepEqual(outbound.routes, { "example.com": { host: "10.0.0.5", port: 2525 }, "v6.example": { host: "::1", port: 26 } });
  assert.deepEqual(outbound.retrySchedule, [60_000, 120_000]);
  assert.deepEqual(outbound.dnsServers, ["127.0.0.1:5353", "::1", "[::1]:5300", "192.0.2.53"]);
  assert.equal(outbound.dkimKeyDir, "/srv/mail/keys");
});

test("bad outbound values are reported with the key that holds them", () => {
  const problems = problemsOf(`[outbound]
routes = { "a.example" = "host:99999" }
retry_schedule = ["1m", "soon"]
dns_servers = ["dns.example"]
smarthost_username = "me"
delay_warning = "6d"`);
  assert.ok(problems.some((p) => p.startsWith('config error: outbound.routes: "a.example": expected "host" or "host:port"')), problems.join("\n"));
  assert.ok(problems.some((p) => p.startsWith("config error: outbound.retry_schedule: [1]: expected a duration")), problems.join("\n"));
  assert.ok(problems.includes('config error: outbound.dns_servers[0]: expected an IP address or "ip:port", got "dns.example"'), problems.join("\n"));
  assert.ok(problems.includes("config error: outbound.smarthost_password_file: required when the other smarthost AUTH key is set"), problems.join("\n"));
  assert.ok(problems.includes("config error: outbound.smarthost: required when outbound.smarthost_username is set"), problems.join("\n"));
  assert.ok(problems.includes("config error: outbound.delay_warning: must be shorter than outbound.max_lifetime"), problems.join("\n"));
});

test("an empty retry schedule is refused", () => {
  assert.ok(problemsOf("[outbound]\nretry_schedule = []").some((p) => p.startsWith("config error: outbound.retry_schedule: expected an array of 1 to 50 values")));
});

test("dns_servers: a loopback test server with its port is accepted; names, bad octets and bad ports are not", () => {
  for (const good of ["127.0.0.1:40053", "127.0.0.1", "::1", "[::1]:53", "[2001:db8::1]"]) assert.deepEqual(parseConfigText(`[outbound]\ndns_servers = ["${good}"]`, base).outbound.dnsServers, [good]);
  for (const bad of ["127.0.0.1:0", "127.0.0.1:65536", "300.0.0.1", "[127.0.0.1]:53", "localhost:53", "::1:53:x"]) {
    assert.ok(problemsOf(`[outbound]\ndns_servers = ["${bad}"]`).some((p) => p.startsWith("config error: outbound.dns_servers[0]")), bad);
  }
});

test("per_destination_rate: 0 (unlimited) by default, a whole number of messages a minute otherwise", () => {
  assert.equal(parseConfigText("", base).outbound.perDestinationRate, 0);
  assert.equal(parseConfigText("[outbound]\nper_destination_rate = 120", base).outbound.perDestinationRate, 120);
  assert.ok(problemsOf("[outbound]\nper_destination_rate = -1").some((p) => p.includes("per_destination_rate")));
  assert.ok(problemsOf('[outbound]\nper_destination_rate = "fast"').some((p) => p.includes("per_destination_rate")));
});

test("dnssec_resolver: off by default; an address with an optional port turns DANE on; a name is refused", () => {
  assert.equal(parseConfigText("", base).outbound.dnssecResolver, null);
  for (const good of ["127.0.0.1:53", "127.0.0.1", "[::1]:5353"]) assert.equal(parseConfigText(`[outbound]\ndnssec_resolver = "${good}"`, base).outbound.dnssecResolver, good);
  for (const bad of ["resolver.local", "127.0.0.1:0", "[127.0.0.1]:53"]) {
    assert.ok(problemsOf(`[outbound]\ndnssec_resolver = "${bad}"`).includes(`config error: outbound.dnssec_resolver: expected an IP address or "ip:port", got "${bad}"`), bad);
  }
});
