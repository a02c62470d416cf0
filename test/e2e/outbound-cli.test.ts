// The outbound commands through the real `mailroom` binary: domain add makes DKIM keys and `dns`
// prints their public halves, `dkim rotate` adds new selectors, and `queue list|show|retry|delete|
// flush` act on a store holding a deferred entry (seeded through the store, as a failed attempt of
// the server's workers leaves it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { makeScratch, runMailroom } from "../harness/mailroom-process.js";

const CHEAP = `[auth]\nargon2_memory_kib = 1024\nargon2_time_cost = 1\n[server]\nhostname = "mx.example.org"\n`;

/** The p= value of a selector's TXT record in `mailroom dns` output (quoted strings joined). */
function publishedKey(output: string, selector: string): string | null {
  const line = output.split("\n").find((l) => l.startsWith(`${selector}._domainkey.`));
  if (!line) return null;
  const joined = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join("");
  return /p=([A-Za-z0-9+/=]+)/.exec(joined)?.[1] ?? null;
}

/** The public key of a PEM private key file, as DKIM publishes it (RFC 6376 §3.6.1, RFC 8463 §4.2). */
async function publicKeyOf(file: string): Promise<string> {
  const key = createPublicKey(createPrivateKey(await readFile(file, "utf8")));
  const der = key.export({ type: "spki", format: "der" });
  // Ed25519 publishes the raw 32-octet key, RSA the whole SubjectPublicKeyInfo.
  return (key.asymmetricKeyType === "ed25519" ? der.subarray(-32) : der).toString("base64");
}

test("domain add makes DKIM keys, dns prints their public keys, dkim rotate adds new selectors", async () => {
  const s = await makeScratch(CHEAP);
  try {
    const run = (args: string[]) => runMailroom(args, { env: s.env });
    const add = await run(["--init", "domain", "add", "example.org"]);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /DKIM keys: mailroom-ed25519, mailroom-rsa/);
    const keyDir = join(s.dataDir, "dkim", "example.org");
    const dns = await run(["dns", "example.org"]);
    assert.equal(dns.code, 0, dns.stderr);
    for (const selector of ["mailroom-ed25519", "mailroom-rsa"]) {
      assert.equal(publishedKey(dns.stdout, selector), await publicKeyOf(join(keyDir, `${selector}.pem`)), `${selector}: the published key is the key file's`);
    }
    assert.match(dns.stdout, /^example\.org\.\s+3600 IN MX\s+10 mx\.example\.org\.$/m);
    assert.match(dns.stdout, /^_mta-sts\.example\.org\.\s+3600 IN TXT\s+"v=STSv1; id=\w+"$/m);
    assert.match(dns.stdout, /^_submissions\._tcp\.example\.org\.\s+3600 IN SRV\s+0 1 465 mx\.example\.org\.$/m);

    const rotate = await run(["dkim", "rotate", "example.org"]);
    assert.equal(rotate.code, 0, rotate.stderr);
    const selectors = /signing with ([\w-]+), ([\w-]+);/.exec(rotate.stdout);
    assert.ok(selectors, rotate.stdout);
    const after = (await run(["dns", "example.org"])).stdout;
    for (const selector of [selectors[1]!, selectors[2]!]) {
      assert.notEqual(selector.startsWith("mailroom-ed25519") || selector === "mailroom-rsa", true, "new selectors");
      assert.equal(publishedKey(after, selector), await publicKeyOf(join(keyDir, `${selector}.pem`)));
    }
    assert.equal((await run(["dkim", "rotate", "nowhere.example"])).code, 1);
  } finally {
    await s.cleanup();
  }
});

test("queue list/show/retry/delete/flush on a queue with a deferred entry", async () => {
  const s = await makeScratch(CHEAP);
  try {
    const store = await openSqliteStore({ dataDir: s.dataDir });
    const ids: number[] = [];
    try {
      await store.addDomain("example.org");
      for (const subject of ["first", "second"]) {
        const staged = await store.stageMessage(Buffer.from(`From: alice@example.org\r\nTo: bob@remote.test\r\nSubject: ${subject}\r\n\r\nhello\r\n`));
        const entry = await store.enqueue({ message: staged, mailFrom: "alice@example.org", submittedBy: "alice@example.org", recipients: [{ address: "bob@remote.test", notify: null, originalRecipient: null }, { address: "carol@remote.test", notify: null, originalRecipient: null }], envelopeId: "env-1", ret: "HDRS", bodyType: "7BIT", smtputf8: false });
        ids.push(entry.id);
      }
      // One attempt of the first entry: bob deferred with the remote's 451, carol delivered; next try in an hour.
      await store.leaseDue(new Date(), 1, 60_000);
      await store.recordAttempt(ids[0]!, [{ address: "bob@remote.test", state: "deferred", reply: "mx.remote.test said: 451 4.7.1 Greylisted" }, { address: "carol@remote.test", state: "delivered", reply: "mx.remote.test said: 250 ok" }], new Date(Date.now() + 3_600_000));
    } finally {
      await store.close();
    }
    const run = (args: string[]) => runMailroom(args, { env: s.env });
    const [deferredId, otherId] = ids as [number, number];

    const list = await run(["queue", "list"]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${deferredId}  \\S+  \\d+ octets  from <alice@example\\.org>  1/2 to go, next attempt \\S+`, "m"));
    assert.match(list.stdout, /deferred {2}<bob@remote\.test> {2}attempts 1 {2}last: mx\.remote\.test said: 451 4\.7\.1 Greylisted/);
    assert.match(list.stdout, / delivered <carol@remote\.test> {2}attempts 1/);
    assert.match(list.stdout, new RegExp(`^${otherId} .* 2/2 to go, due now`, "m"));

    const show = await run(["queue", "show", String(deferredId)]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /envelope id env-1, RET HDRS, body 7BIT, submitted by alice@example\.org/);
    assert.equal((await run(["queue", "show", "999"])).code, 1);
    assert.equal((await run(["queue", "show", "x"])).code, 2);

    const retry = await run(["queue", "retry", String(deferredId)]);
    assert.equal(retry.code, 0, retry.stderr);
    assert.match((await run(["queue", "list"])).stdout, new RegExp(`^${deferredId} .* 1/2 to go, due now`, "m"));

    const deleted = await run(["queue", "delete", String(otherId)]);
    assert.equal(deleted.code, 0, deleted.stderr);
    const afterDelete = (await run(["queue", "list"])).stdout;
    assert.doesNotMatch(afterDelete, new RegExp(`^${otherId} `, "m"));
    assert.match(afterDelete, new RegExp(`^${deferredId} `, "m"));

    const flush = await run(["queue", "flush"]);
    assert.equal(flush.code, 0, flush.stderr);
    assert.match(flush.stdout, /^1 queued message\(s\) are due now$/m);
  } finally {
    await s.cleanup();
  }
});
