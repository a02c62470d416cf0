// `mailroom dns` through the real binary: the SRV records come from the config file's listeners
// (ports, which services exist, implicit TLS preferred), not from a fixed table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeScratch, runMailroom } from "../harness/mailroom-process.js";

const CONFIG = `[auth]
argon2_memory_kib = 1024
argon2_time_cost = 1
[server]
hostname = "mx.example.org"
[[listeners]]
protocol = "smtp"
[[listeners]]
protocol = "submission"
port = 2587
[[listeners]]
protocol = "imaps"
port = 10993
`;

test("mailroom dns publishes SRV records for the configured listeners only", async () => {
  const s = await makeScratch(CONFIG);
  try {
    assert.equal((await runMailroom(["domain", "add", "example.org", "--init"], { env: s.env })).code, 0);
    const dns = await runMailroom(["dns", "example.org"], { env: s.env });
    assert.equal(dns.code, 0, dns.stderr);
    const srv = dns.stdout.split("\n").filter((l) => / IN SRV /.test(l)).map((l) => l.replace(/\s+3600 IN SRV\s+/, " "));
    assert.deepEqual(srv, [
      "_submissions._tcp.example.org. 0 0 0 .",
      "_submission._tcp.example.org. 10 1 2587 mx.example.org.",
      "_imaps._tcp.example.org. 0 1 10993 mx.example.org.",
      "_imap._tcp.example.org. 0 0 0 .",
      "_pop3s._tcp.example.org. 0 0 0 .",
      "_pop3._tcp.example.org. 0 0 0 .",
    ]);
  } finally {
    await s.cleanup();
  }
});
