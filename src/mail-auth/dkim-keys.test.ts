import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createTableResolver } from "./dns-resolver.js";
import { dkimTxtRecord, generateDkimKeys, loadDkimKeys, signWithKeys } from "./dkim-keys.js";
import { verifyInbound } from "./verify-inbound.js";

const message = "From: alice@a.test\r\nTo: bob@b.test\r\nSubject: keys\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <k@a.test>\r\n\r\nHello\r\n";

test("generated Ed25519 and RSA keys sign mail that verifies against their published records", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-dkim-"));
  try {
    assert.equal(await loadDkimKeys(dir, "a.test"), null);
    const keys = await generateDkimKeys(dir, "A.test", "mailroom");
    assert.deepEqual(keys.keys.map((k) => [k.selector, k.algorithm]), [["mailroom-ed25519", "ed25519-sha256"], ["mailroom-rsa", "rsa-sha256"]]);
    assert.equal((await stat(join(dir, "a.test", "mailroom-rsa.pem"))).mode & 0o777, 0o600);
    const loaded = await loadDkimKeys(dir, "a.test");
    assert.deepEqual(loaded, keys);
    const fields = await signWithKeys(() => Readable.from([Buffer.from(message)]), loaded!);
    assert.equal(fields.match(/^DKIM-Signature:/gim)?.length, 2);
    assert.match(fields, /a=ed25519-sha256/);
    assert.match(fields, /c=relaxed\/relaxed/);
    const table: Record<string, { TXT: string[][] }> = {};
    for (const key of keys.keys) table[`${key.selector}._domainkey.a.test`] = { TXT: [[dkimTxtRecord(key)]] };
    assert.match(dkimTxtRecord(keys.keys[0]!), /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
    const verdict = await verifyInbound({ message: Buffer.from(fields + message), clientIp: "127.0.0.1", heloName: "a.test", mailFrom: "alice@a.test", receivingHost: "mx.b.test", resolver: createTableResolver(table) });
    assert.deepEqual(verdict.dkim.map((s) => s.result).sort(), ["pass", "pass"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("rotation makes new dated selectors active and keeps the old keys; bad domains are refused", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-dkim-"));
  try {
    await generateDkimKeys(dir, "a.test", "mailroom");
    const now = new Date("2031-02-03T10:00:00Z");
    const first = await generateDkimKeys(dir, "a.test", "mailroom", { rotate: true, now });
    const second = await generateDkimKeys(dir, "a.test", "mailroom", { rotate: true, now });
    assert.equal(first.keys[0]!.selector, "mailroom-20310203-ed25519");
    assert.equal(second.keys[0]!.selector, "mailroom-20310203-2-ed25519");
    assert.equal((await loadDkimKeys(dir, "a.test"))!.keys[1]!.selector, "mailroom-20310203-2-rsa");
    await stat(join(dir, "a.test", "mailroom-rsa.pem"));
    await assert.rejects(generateDkimKeys(dir, "../etc", "mailroom"), RangeError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
