// Mail from the machine itself (issue 12): on a server with the default [inbound] settings, a
// message on port 25 from 127.0.0.1 with a From: in one of our domains and no SPF or DKIM lands in
// INBOX (inbound.trusted_networks defaults to loopback), sent by swaks and by curl. With the
// trusted networks emptied, the same message goes to Junk, and the log names the real reason
// (our own domain unauthenticated), not a DMARC policy the domain never published. Relaying is
// not what trust means: a remote recipient is still refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseConfigText } from "../../src/config/index.js";
import { createTableResolver } from "../../src/mail-auth/index.js";
import { createMemoryLogger } from "../../src/observability/log.js";
import { createInboundVerifier } from "../../src/server/inbound-verifier.js";
import { mailboxMessages, startSmtpHarness } from "../harness/smtp-harness.js";
import { run, swaks } from "../harness/smtp-clients.js";

// No records at all: example.org publishes no SPF and no DMARC, as on a fresh install.
const resolver = createTableResolver({});

async function harnessWith(inboundToml: string) {
  const log = createMemoryLogger();
  const policy = parseConfigText(`[inbound]\n${inboundToml}`).inbound;
  const h = await startSmtpHarness({ log, verifier: (store) => createInboundVerifier({ accounts: store, resolver, policy, log }) });
  return { h, log };
}

test("default trusted networks: swaks and curl from 127.0.0.1 with our own From: land in INBOX, relaying stays refused", async () => {
  const { h } = await harnessWith("");
  try {
    const sent = await swaks(h.ports.mx, ["--from", "cron@example.org", "--to", "alice@example.org", "--header", "From: Cron Daemon <cron@example.org>", "--header", "Subject: nightly backup", "--body", "backup done"]);
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    const file = join(h.temp.dataDir, "curl-message.txt");
    await writeFile(file, "From: root@example.org\r\nTo: alice@example.org\r\nSubject: disk almost full\r\n\r\n/var is at 91%\r\n");
    const curled = await run("curl", ["-sS", "--max-time", "15", `smtp://127.0.0.1:${h.ports.mx}`, "--mail-from", "root@example.org", "--mail-rcpt", "alice@example.org", "-T", file]);
    assert.equal(curled.code, 0, curled.stderr);
    const inbox = await mailboxMessages(h, h.accounts.alice);
    assert.equal(inbox.length, 2, "both in INBOX");
    assert.match(inbox[0]!.text, /Subject: nightly backup/);
    assert.match(inbox[1]!.text, /Subject: disk almost full/);
    assert.equal((await mailboxMessages(h, h.accounts.alice, "Junk")).length, 0);
    const relay = await swaks(h.ports.mx, ["--from", "cron@example.org", "--to", "someone@elsewhere.example", "--body", "x"]);
    assert.notEqual(relay.code, 0);
    assert.match(relay.stdout, /<\*\* 550 5\.7\.1 Relay access denied/);
  } finally {
    await h.stop();
  }
});

test("without trusted networks the same message is quarantined, and the log gives the real reason", async () => {
  const { h, log } = await harnessWith("trusted_networks = []");
  try {
    const sent = await swaks(h.ports.mx, ["--from", "cron@example.org", "--to", "alice@example.org", "--header", "From: cron@example.org", "--body", "backup done"]);
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    assert.equal((await mailboxMessages(h, h.accounts.alice)).length, 0);
    assert.equal((await mailboxMessages(h, h.accounts.alice, "Junk")).length, 1);
    const filed = log.records.find((r) => r.event === "smtp.message_filed");
    assert.ok(filed, JSON.stringify(log.records.map((r) => r.event)));
    assert.equal(filed.folder, "junk");
    assert.match(String(filed.reason), /local domain example\.org without SPF or DKIM/);
    assert.doesNotMatch(String(filed.reason), /DMARC policy/);
  } finally {
    await h.stop();
  }
});

test("inbound.trusted_networks is validated: a bad network stops the start naming the key", () => {
  assert.deepEqual(parseConfigText("").inbound.trustedNetworks, ["127.0.0.0/8", "::1/128"]);
  assert.deepEqual(parseConfigText('[inbound]\ntrusted_networks = ["192.0.2.0/24", "2001:DB8::/32", "198.51.100.7"]').inbound.trustedNetworks, ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7/32"]);
  for (const bad of ['["192.0.2.0/33"]', '["10.0.0.0/8x"]', '["mail.example.org"]', '"127.0.0.1"', '["::1/129"]']) {
    assert.throws(() => parseConfigText(`[inbound]\ntrusted_networks = ${bad}`), /inbound\.trusted_networks/, bad);
  }
});
