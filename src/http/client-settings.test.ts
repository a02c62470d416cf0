import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultListeners, type ListenerConfig } from "../config/index.js";
import { clientServers, isDomainName, parseEmailAddress, xmlEscape } from "./client-settings.js";

test("default listeners: IMAP, POP3 and SMTP submission, implicit TLS before STARTTLS, never port 25", () => {
  assert.deepEqual(
    clientServers(defaultListeners(), "mx.example.org").map((s) => `${s.service} ${s.port} ${s.socket}`),
    ["imap 993 SSL", "imap 143 STARTTLS", "pop3 995 SSL", "pop3 110 STARTTLS", "smtp 465 SSL", "smtp 587 STARTTLS"],
  );
});

test("cleartext, loopback-only and unbound listeners are not offered", () => {
  const listeners: ListenerConfig[] = [
    { protocol: "imap", port: 143, address: "::", tls: "none" },
    { protocol: "imaps", port: 993, address: "127.0.0.1", tls: "implicit" },
    { protocol: "submission", port: 0, address: "::", tls: "starttls" },
    { protocol: "submissions", port: 465, address: "0.0.0.0", tls: "implicit" },
  ];
  assert.deepEqual(clientServers(listeners, "mx.example.org").map((s) => `${s.service} ${s.port} ${s.socket}`), ["smtp 465 SSL"]);
  // The port actually bound replaces the configured 0.
  assert.deepEqual(clientServers(listeners, "h", (l) => (l.port === 0 ? 2587 : l.port)).map((s) => s.port), [465, 2587]);
});

test("addresses and domains are checked before they reach a response", () => {
  assert.deepEqual(parseEmailAddress("Alice@Example.ORG"), { address: "Alice@Example.ORG", domain: "example.org" });
  for (const bad of ["", "alice", "@example.org", "alice@", "a b@example.org", "a@exa mple.org", "<x>@example.org", "a@-bad.org", "a@localhost", "a".repeat(400) + "@example.org", 42, undefined]) {
    assert.equal(parseEmailAddress(bad), null, String(bad));
  }
  assert.ok(isDomainName("mta-sts.example.org"));
  assert.ok(!isDomainName("../etc"));
  assert.equal(xmlEscape(`<a href="x">&'`), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;");
});
