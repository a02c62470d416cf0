// `mailroom restore` with `[store] backend = "postgresql"`: a backup of an embedded store (taken by
// the real command, no server running: in-process under the owner lock) is restored into an empty
// PostgreSQL database of a throwaway cluster; the PostgreSQL store then has the same UIDVALIDITY,
// UIDs, flags, bytes, password hash and Sieve script, the DKIM keys are in the database (the
// PostgreSQL backend keeps them there: store/node-state-store.ts), and the temporary embedded store
// is gone. (Backups of a PostgreSQL store: test/e2e/backup-postgresql-load.test.ts.)
import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { after, before, test } from "node:test";
import { generateDkimKeys, loadDkimKeys } from "../../src/mail-auth/index.js";
import { PostgresNodeState } from "../../src/store/postgresql/node-state.js";
import { openPostgresStore } from "../../src/store/postgresql/postgresql-store.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { AccountStore, MailStore, SieveStore } from "../../src/store/index.js";
import { makeScratch, runMailroom } from "../harness/mailroom-process.js";
import { postgresUnavailable, startPostgres, type PostgresCluster } from "../harness/postgres.js";

const skip = postgresUnavailable() ?? false;
let cluster: PostgresCluster;
before(async () => {
  if (!skip) cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

async function contents(store: MailStore & AccountStore & SieveStore): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const account of await store.listAccounts()) {
    out.push(account.address, account.passwordHash, (await store.getActiveSieveScript(account.id))?.content ?? null);
    for (const mailbox of await store.listMailboxes(account.id)) {
      out.push([mailbox.name, mailbox.uidValidity, mailbox.uidNext]);
      const summaries = await store.listMessages(mailbox.id);
      for (const message of await store.getMessages(mailbox.id, summaries.map((s) => s.uid))) {
        out.push([message.uid, message.flags, message.internalDate.getTime(), (await readAll(store.openMessage(message))).toString("base64")]);
      }
    }
  }
  return out;
}

test("a backup of an embedded store restores into an empty PostgreSQL database", { skip, timeout: 180_000 }, async () => {
  const s = await makeScratch("");
  try {
    const source = await openSqliteStore({ dataDir: s.dataDir });
    await source.addDomain("example.org");
    const alice = await source.createAccount({ address: "alice@example.org", passwordHash: "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g" });
    const inbox = (await source.getMailbox(alice.id, "INBOX"))!;
    for (let i = 0; i < 30; i++) await source.append(inbox.id, Buffer.from(`Subject: ${i}\r\nMessage-ID: <${i}@x>\r\n\r\nbody ${i}\r\n`), { flags: i % 2 ? ["\\Seen", "$Label1"] : [] });
    await source.removeMessages(inbox.id, [3 as never]);
    await source.putSieveScript(alice.id, "main", 'require "fileinto"; if header :contains "subject" "x" { fileinto "Junk"; }', 10);
    await source.setActiveSieveScript(alice.id, "main");
    const expected = await contents(source);
    await source.close();
    const keys = await generateDkimKeys(join(s.dataDir, "dkim"), "example.org", "mailroom");

    const archive = join(s.dir, "b.tgz");
    const made = await runMailroom(["backup", archive], { env: s.env, timeoutMs: 60_000 });
    assert.equal(made.code, 0, made.stderr);

    const url = await cluster.createDatabase("restore");
    const pgConfig = join(s.dir, "pg.toml");
    await writeFile(pgConfig, `[store]\nbackend = "postgresql"\nurl = "${url}"\n`);
    const target = join(s.dir, "pg-data");
    const restored = await runMailroom(["--config", pgConfig, "--data-dir", target, "restore", archive], { timeoutMs: 120_000 });
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /is in the PostgreSQL database/);
    assert.match(restored.stdout, /2 DKIM key\(s\) and 0 ACME certificate\(s\) moved into the database/);
    assert.deepEqual((await readdir(target)).filter((n) => n !== "mailroom.lock").sort(), [], "no key files and no embedded store left");

    const pg = await openPostgresStore({ url });
    try {
      assert.deepEqual(await contents(pg), expected);
      assert.deepEqual(await loadDkimKeys(new PostgresNodeState(pg.pool), "example.org"), keys, "the DKIM keys are in the database");
    } finally {
      await pg.close();
    }
  } finally {
    await s.cleanup();
  }
});
