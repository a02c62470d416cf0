// `mailroom index check` / `mailroom index rebuild` as an operator runs them: real processes on a
// data dir, first in-process under the owner lock (progress lines on stderr), then against a
// running server through its control socket, with a search over IMAP answered from the rebuilt index.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess } from "../harness/mailroom-process.js";

test("index check exits 1 on a damaged index and names it; index rebuild fixes it, with and without a server", async () => {
  const s = await makeScratch(serveConfig({ plaintextAuthOnLoopback: true, listeners: [{ protocol: "imap" }] }));
  try {
    let store = await openSqliteStore({ dataDir: s.dataDir });
    await store.addDomain("example.org");
    await store.close();
    const added = await runMailroom(["user", "add", "alice@example.org"], { env: s.env, input: "a long password\n" });
    assert.equal(added.code, 0, added.stderr);
    store = await openSqliteStore({ dataDir: s.dataDir });
    const alice = (await store.findAccountByAddress("alice@example.org"))!;
    const bob = await store.createAccount({ address: "bob@example.org", passwordHash: "x" });
    const inbox = (await store.getMailbox(alice.id, "INBOX"))!;
    await store.append(inbox.id, Buffer.from("Subject: one\r\n\r\nthe first quokka\r\n"));
    await store.append(inbox.id, Buffer.from("Subject: two\r\n\r\nthe second wombat\r\n"));
    await store.append((await store.getMailbox(bob.id, "INBOX"))!.id, Buffer.from("Subject: three\r\n\r\nbob's numbat\r\n"));
    const [first, second] = await store.getMessages(inbox.id, [1 as never, 2 as never]);
    await store.close();

    const clean = await runMailroom(["index", "check"], { env: s.env });
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(clean.stdout, /^blobs: 3$/m);
    assert.match(clean.stdout, /^index check: clean/m);
    assert.match(clean.stderr, /^index entries against message files: 3\/3 checked$/m, "plain progress lines off a terminal");

    const damage = (sql: (db: Database.Database) => void): void => {
      const db = new Database(join(s.dataDir, "mailroom.sqlite"));
      try {
        sql(db);
      } finally {
        db.close();
      }
    };
    const textId = (db: Database.Database, id: string): number => (db.prepare("SELECT text_id FROM blobs WHERE id = ?").get(id) as { text_id: number }).text_id;
    damage((db) => {
      db.prepare("DELETE FROM search_index WHERE rowid = ?").run(textId(db, first!.blobId));
      db.prepare("UPDATE search_index SET text = 'nothing like it' WHERE rowid = ?").run(textId(db, second!.blobId));
      db.prepare("INSERT INTO search_index (rowid, text) VALUES (777, 'an orphan')").run();
    });
    const offline = await runMailroom(["index", "check"], { env: s.env });
    assert.equal(offline.code, 1, offline.stderr);
    assert.match(offline.stdout, new RegExp(`^without an index entry: 1: ${first!.blobId}$`, "m"));
    assert.match(offline.stdout, new RegExp(`^entry differs from the message file: 1: ${second!.blobId}$`, "m"));
    assert.match(offline.stdout, /^index rows without a blob: 1: 777$/m);
    assert.match(offline.stderr, /3 problem\(s\) in the search index/);

    const server = await startServeProcess(s.env);
    try {
      const imap = await RawImapClient.open(listenerPort(server.banner, "imap"));
      try {
        await imap.command("a1", 'LOGIN alice@example.org "a long password"');
        await imap.command("a2", "SELECT INBOX");
        const before = await imap.command("a3", "UID SEARCH TEXT quokka");
        assert.match(before, /^\* SEARCH\r?$/m, "the lost entry: the search does not find the message");

        const running = await runMailroom(["index", "check"], { env: s.env });
        assert.equal(running.code, 1, running.stderr);
        assert.match(running.stdout, /^index check: 3 problem\(s\)/m);
        assert.match(running.stderr, /^index entries against message files: 3\/3 checked$/m, "progress travels over the control socket");

        // One account: alice's two entries come back; the orphan stays until a full rebuild.
        const partial = await runMailroom(["index", "rebuild", "--account", "alice@example.org"], { env: s.env });
        assert.equal(partial.code, 0, partial.stderr);
        assert.match(partial.stdout, /^rebuilt: 2 index entries of alice@example.org's messages$/m);
        const afterPartial = await runMailroom(["index", "check"], { env: s.env });
        assert.equal(afterPartial.code, 1);
        assert.match(afterPartial.stdout, /^index check: 1 problem\(s\)/m);

        const full = await runMailroom(["index", "rebuild"], { env: s.env });
        assert.equal(full.code, 0, full.stderr);
        assert.match(full.stdout, /^rebuilt: 3 index entries$/m);
        assert.match(full.stdout, /^index rows without a blob removed: 1$/m);
        assert.match(full.stderr, /^index entries rebuilt from message files: 3\/3 done$/m);
        const after = await runMailroom(["index", "check"], { env: s.env });
        assert.equal(after.code, 0, after.stdout + after.stderr);
        assert.match(after.stdout, /^index check: clean/m);

        const found = await imap.command("a4", "UID SEARCH TEXT quokka");
        assert.match(found, /^\* SEARCH 1\r?$/m);
        const wombat = await imap.command("a5", "UID SEARCH BODY wombat");
        assert.match(wombat, /^\* SEARCH 2\r?$/m);
        const unknown = await runMailroom(["index", "rebuild", "--account", "nobody@example.org"], { env: s.env });
        assert.notEqual(unknown.code, 0);
        assert.match(unknown.stderr, /no such user: nobody@example.org/);
      } finally {
        imap.socket.destroy();
      }
    } finally {
      await server.stop();
    }
  } finally {
    await s.cleanup();
  }
});
