// Backup and restore through the store (store/backup/, docs/architecture.md "Backup and restore"):
// a full backup taken while messages are appended and expunged with the collector running
// restores byte for byte with UIDVALIDITY and UIDs; an incremental chain restores with its bases
// and refuses without them; a flipped byte and a truncated archive fail naming the entry and
// leave no database in place.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openSqliteStore, type SqliteStore } from "../sqlite/sqlite-store.js";
import type { MailboxId, Uid } from "../types.js";
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createGzip, gunzipSync } from "node:zlib";
import { readBackup } from "./restore.js";
import { TarWriter } from "./tar.js";
import type { BackupReport } from "./types.js";

interface Fixture {
  root: string;
  store: SqliteStore;
  inbox: MailboxId;
}

async function withFixture(run: (f: Fixture) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "mailroom-backup-"));
  const store = await openSqliteStore({ dataDir: join(root, "data"), collector: { tickMs: 5, busyTickMs: 1 } });
  try {
    await store.addDomain("example.test");
    const account = await store.createAccount({ address: "a@example.test", passwordHash: "x" });
    const inbox = (await store.getMailbox(account.id, "INBOX"))!.id;
    await mkdir(join(root, "data", "dkim", "example.test"), { recursive: true });
    const key = await open(join(root, "data", "dkim", "example.test", "selector.pem"), "w");
    await key.writeFile("-----BEGIN PRIVATE KEY-----\nnot really\n-----END PRIVATE KEY-----\n");
    await key.close();
    await run({ root, store, inbox });
  } finally {
    await store.close();
    await rm(root, { recursive: true, force: true });
  }
}

const message = (n: number, size = 2000): Buffer => Buffer.from(`Subject: message ${n}\r\nMessage-ID: <${n}@example.test>\r\n\r\n${`line ${n} `.repeat(size / 8)}\r\n`);

async function backup(f: Fixture, name: string, incrementalFrom: string | null = null, onProgress?: () => void): Promise<BackupReport> {
  return f.store.writeBackup({
    file: join(f.root, name),
    incrementalFrom: incrementalFrom === null ? null : join(f.root, incrementalFrom),
    files: [{ name: "dkim", dir: join(f.root, "data", "dkim") }],
    serverVersion: "test",
    ...(onProgress ? { onProgress } : {}),
  });
}

async function restoreInto(f: Fixture, file: string, target: string, bases: string[] = []) {
  const scratchDir = await mkdtemp(join(tmpdir(), "mailroom-backup-scratch-"));
  try {
    await mkdir(target, { recursive: true });
    return await readBackup({ file: join(f.root, file), bases, target: { dataDir: target, fileDirs: {} }, scratchDir });
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
  }
}

async function verify(f: Fixture, file: string, bases: string[] = []) {
  const scratchDir = await mkdtemp(join(tmpdir(), "mailroom-backup-scratch-"));
  try {
    return await readBackup({ file: join(f.root, file), bases, target: null, scratchDir });
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
  }
}

/** uid -> [flags, bytes] of a mailbox, and its UIDVALIDITY. */
async function contents(store: SqliteStore, mailbox: MailboxId): Promise<{ uidValidity: number; messages: Map<number, [string, string]> }> {
  const status = await store.mailboxStatus(mailbox);
  const summaries = await store.getSummaryRange(mailbox, 1 as Uid, 0xffffffff as Uid);
  const stored = await store.readMessages(
    mailbox,
    summaries.map((s) => s.uid),
    { maxSize: 10_000_000 },
  );
  return { uidValidity: status.uidValidity, messages: new Map(summaries.map((s) => [s.uid as number, [s.flags.join(" "), stored.get(s.uid)!.toString("base64")]])) };
}

test("a backup under appends, expunges and a running collector restores byte for byte with UIDs and UIDVALIDITY", async () => {
  await withFixture(async (f) => {
    for (let i = 1; i <= 150; i++) await f.store.append(f.inbox, message(i), { flags: i % 3 === 0 ? ["\\Seen"] : [] });
    f.store.startCollector();
    // Keep writing and removing while the backup runs: the archive must still be whole.
    let writing = true;
    const load = (async () => {
      for (let i = 1000; writing; i++) {
        await f.store.append(f.inbox, message(i));
        await f.store.removeMessages(f.inbox, [(i - 999) as Uid]);
      }
    })();
    const report = await backup(f, "full.tgz");
    writing = false;
    await load;
    assert.equal(report.base, null);
    assert.ok(report.messageFiles >= 1, "message files referenced");
    assert.equal(report.storedFiles, report.messageFiles);
    assert.equal(report.extraFiles, 1);
    await stat(join(f.root, "full.tgz.manifest.jsonl"));

    const verified = await verify(f, "full.tgz");
    assert.equal(verified.messageFiles, report.messageFiles);

    const target = join(f.root, "restored");
    await restoreInto(f, "full.tgz", target);
    const restored = await openSqliteStore({ dataDir: target });
    try {
      const check = await restored.checkStore();
      assert.equal(check.remaining, 0, JSON.stringify(check));
      const account = await restored.findAccountByAddress("a@example.test");
      const inbox = (await restored.getMailbox(account!.id, "INBOX"))!;
      const got = await contents(restored, inbox.id);
      const live = await contents(f.store, f.inbox);
      assert.equal(got.uidValidity, live.uidValidity);
      // Every message the live store still has from before the backup began is there, the same.
      for (let uid = 150; uid > 0 && live.messages.has(uid); uid--) assert.deepEqual(got.messages.get(uid), live.messages.get(uid), `uid ${uid}`);
      assert.equal(got.messages.size, report.messageFiles);
    } finally {
      await restored.close();
    }
    assert.deepEqual((await readdir(join(target, "dkim", "example.test"))).sort(), ["selector.pem"]);
  });
});

test("an incremental chain holds only new files, restores with its bases, and refuses without them", async () => {
  await withFixture(async (f) => {
    for (let i = 1; i <= 20; i++) await f.store.append(f.inbox, message(i));
    const first = await backup(f, "b1.tgz");
    for (let i = 21; i <= 30; i++) await f.store.append(f.inbox, message(i));
    const second = await backup(f, "b2.tgz", "b1.tgz");
    for (let i = 31; i <= 35; i++) await f.store.append(f.inbox, message(i));
    await f.store.removeMessages(f.inbox, [1 as Uid]);
    // An outbound queue entry (its blob is held by the queue, not a mailbox) and a Sieve script.
    const queued = await f.store.enqueue({
      message: await f.store.stageMessage(message(99)),
      mailFrom: "a@example.test",
      submittedBy: "a@example.test",
      recipients: [{ address: "b@example.net", notify: null, originalRecipient: null }],
      envelopeId: null,
      ret: null,
      bodyType: "7BIT",
      smtputf8: false,
    });
    const owner = (await f.store.findAccountByAddress("a@example.test"))!;
    await f.store.putSieveScript(owner.id, "main", 'require "fileinto"; fileinto "Junk";', 10);
    await f.store.setActiveSieveScript(owner.id, "main");
    // From the manifest beside the archive, not the archive.
    const third = await backup(f, "b3.tgz", "b2.tgz.manifest.jsonl");
    assert.equal(first.storedFiles, 20);
    assert.deepEqual([second.base, second.messageFiles, second.storedFiles], [first.id, 30, 10]);
    assert.deepEqual([third.base, third.messageFiles, third.storedFiles], [second.id, 35, 6]);

    const verified = await verify(f, "b3.tgz");
    assert.deepEqual(verified.chain.map((c) => c.id), [second.id, first.id]);
    const target = join(f.root, "restored");
    const report = await restoreInto(f, "b3.tgz", target);
    assert.equal(report.messageFiles, 35);
    const restored = await openSqliteStore({ dataDir: target });
    try {
      assert.equal((await restored.checkStore()).remaining, 0);
      const account = await restored.findAccountByAddress("a@example.test");
      const inbox = (await restored.getMailbox(account!.id, "INBOX"))!;
      assert.deepEqual(await contents(restored, inbox.id), await contents(f.store, f.inbox));
      const [entry] = await restored.listQueue();
      assert.deepEqual([entry?.id, entry?.mailFrom, entry?.recipients.map((r) => r.address)], [queued.id, "a@example.test", ["b@example.net"]]);
      const sent: Buffer[] = [];
      for await (const chunk of restored.openQueued(entry!)) sent.push(chunk as Buffer);
      assert.deepEqual(Buffer.concat(sent).subarray(-message(99).length), message(99));
      assert.equal((await restored.getActiveSieveScript(account!.id))?.content, 'require "fileinto"; fileinto "Junk";');
      assert.equal(account!.passwordHash, "x");
    } finally {
      await restored.close();
    }

    // Without the first base beside it: refused, naming what is missing; --base finds it elsewhere.
    await mkdir(join(f.root, "elsewhere"));
    await rename(join(f.root, "b1.tgz"), join(f.root, "elsewhere", "b1.tgz"));
    await assert.rejects(verify(f, "b3.tgz"), new RegExp(`base ${first.id} \\(b1\\.tgz\\) is needed`));
    await verify(f, "b3.tgz", [join(f.root, "elsewhere", "b1.tgz")]);
    // The wrong archive given as the base is refused by id.
    await assert.rejects(verify(f, "b2.tgz", [join(f.root, "b3.tgz")]), /base .* is needed|not the base/);
  });
});

test("a flipped byte and a truncated archive fail naming where, and leave no database in place", async () => {
  await withFixture(async (f) => {
    // Incompressible bodies, so a byte of the archive is a byte of some message file.
    for (let i = 1; i <= 40; i++) await f.store.append(f.inbox, Buffer.concat([Buffer.from(`Subject: ${i}\r\n\r\n`), Buffer.from(Array.from({ length: 4000 }, (_, k) => 33 + ((k * 7919 + i * 104729) % 89)))]));
    const report = await backup(f, "b.tgz");
    const size = (await stat(join(f.root, "b.tgz"))).size;
    assert.equal(size, report.archiveBytes);

    // A flipped byte anywhere: whichever check catches it (gzip, a tar header, an entry's SHA-256,
    // the manifest), the error names the archive and an entry.
    await rename(join(f.root, "b.tgz"), join(f.root, "good.tgz"));
    const { copyFile } = await import("node:fs/promises");
    let caught = 0;
    for (let k = 0; k < 12; k++) {
      await copyFile(join(f.root, "good.tgz"), join(f.root, "flipped.tgz"));
      const handle = await open(join(f.root, "flipped.tgz"), "r+");
      const at = 20 + Math.floor(((k + 0.5) / 12) * (size - 40));
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, at);
      byte[0] = byte[0]! ^ 0x10;
      await handle.write(byte, 0, 1, at);
      await handle.close();
      // A flip in deflate's padding bits (before a stored block, after a block's end) changes no
      // byte of the content, so there is nothing to catch; every other flip must be caught.
      const original = gunzipSync(await readFile(join(f.root, "good.tgz")));
      const flipped = await readFile(join(f.root, "flipped.tgz"));
      const unchanged = (() => {
        try {
          return gunzipSync(flipped).equals(original);
        } catch {
          return false;
        }
      })();
      if (unchanged) continue;
      await assert.rejects(verify(f, "flipped.tgz"), (error: Error) => {
        assert.match(error.message, /^\/.*flipped\.tgz: /, `byte ${at}`);
        assert.match(error.message, /damaged|truncated|checksum/, `byte ${at}: ${error.message}`);
        assert.match(error.message, /entry (blobs\/[0-9a-f]{64}|db\/mailroom\.sqlite|manifest\.jsonl|mailroom-backup\.json|files\/\S+)|at the start of the archive/, `byte ${at}: ${error.message}`);
        return true;
      });
      caught++;
    }
    assert.ok(caught >= 10, `${caught} of 12 flips changed the content and were caught`);

    // Cut short: restore fails with "truncated" and the target has no mailroom.sqlite.
    await copyFile(join(f.root, "good.tgz"), join(f.root, "short.tgz"));
    await truncate(join(f.root, "short.tgz"), Math.floor(size / 2));
    const target = join(f.root, "restored");
    await assert.rejects(restoreInto(f, "short.tgz", target), /short\.tgz: the archive is truncated/);
    assert.ok(!(await readdir(target)).includes("mailroom.sqlite"));
    await verify(f, "good.tgz");
  });
});

test("a hostile archive cannot place files outside the known folders, and a newer schema is refused before anything is written", async () => {
  await withFixture(async (f) => {
    const craft = async (name: string, header: Record<string, unknown>, entries: [string, Buffer][]) => {
      const gzip = createGzip();
      const written = pipeline(gzip, createWriteStream(join(f.root, name)));
      const tar = new TarWriter(gzip);
      const headerBytes = Buffer.from(JSON.stringify({ format: "mailroom-backup", version: 1, id: "x", created: "now", serverVersion: "9", schemaVersion: 1, backend: "sqlite", base: null, ...header }));
      await tar.addFile("mailroom-backup.json", headerBytes.length, [headerBytes]);
      for (const [entry, body] of entries) await tar.addFile(entry, body.length, [body]);
      await tar.finish();
      gzip.end();
      await written;
    };
    await craft("odd.tgz", {}, [["files/blobs/ab", Buffer.from("x")]]);
    await assert.rejects(verify(f, "odd.tgz"), /odd\.tgz: unexpected entry files\/blobs\/ab/);
    await craft("escape.tgz", {}, [["files/dkim/../../etc/passwd", Buffer.from("x")]]);
    await assert.rejects(verify(f, "escape.tgz"), /unsafe entry name/);
    await craft("newer.tgz", { schemaVersion: 9999 }, [["db/mailroom.sqlite", Buffer.from("x")]]);
    const target = join(f.root, "restored");
    await assert.rejects(restoreInto(f, "newer.tgz", target), /made by a newer Mailroom .*schema version 9999/);
    assert.ok(!(await readdir(target)).includes("mailroom.sqlite.restoring"));
  });
});
