// PostgreSQL-specific behaviour beyond the contract, with several stores on one database standing
// in for several Mailroom nodes: migrations run once when nodes start together, UIDs become
// visible in ascending order under concurrent delivery from every node, a queue entry is leased
// by one node at a time, chunked bytes stream back exactly, and an unreachable database is
// UNAVAILABLE (what protocols turn into 4xx / NO [UNAVAILABLE]) without the password in the error.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { postgresUnavailable, startPostgres, type PostgresCluster } from "../../../test/harness/postgres.js";
import type { AccountChange } from "../changes.js";
import { isStoreError } from "../errors.js";
import type { MailboxId, Uid } from "../types.js";
import { CHUNK_BYTES } from "./blob-store.js";
import { redactUrl, resolvePassword, toStoreError } from "./database.js";
import { openPostgresStore, type PostgresStore } from "./postgresql-store.js";
import { PG_MIGRATIONS } from "./schema.js";

const unavailable = postgresUnavailable();

test("the password comes from the environment or a file, and URLs are redacted", () => {
  process.env["MAILROOM_TEST_PG_PASSWORD"] = "from-env";
  assert.equal(resolvePassword({ passwordEnv: "MAILROOM_TEST_PG_PASSWORD" }), "from-env");
  delete process.env["MAILROOM_TEST_PG_PASSWORD"];
  assert.throws(() => resolvePassword({ passwordEnv: "MAILROOM_TEST_PG_PASSWORD" }), (e) => isStoreError(e, "UNAVAILABLE") && /not set/.test((e as Error).message));
  assert.throws(() => resolvePassword({ passwordFile: "/nonexistent/password" }), (e) => isStoreError(e, "UNAVAILABLE"));
  assert.equal(resolvePassword({}), undefined);
  assert.equal(redactUrl("postgres://mail:hunter2@db:5432/m"), "postgres://mail:***@db:5432/m");
  assert.ok(isStoreError(toStoreError(Object.assign(new Error("x"), { code: "57P01" })), "UNAVAILABLE"), "admin shutdown");
  assert.ok(isStoreError(toStoreError(Object.assign(new Error("x"), { code: "ECONNREFUSED" })), "UNAVAILABLE"));
  assert.ok(isStoreError(toStoreError(Object.assign(new Error("x"), { code: "53100" })), "NOSPACE"), "disk full");
  assert.ok(isStoreError(toStoreError(Object.assign(new Error("x"), { code: "23505" })), "ALREADYEXISTS"));
  const bug = Object.assign(new Error("syntax"), { code: "42601" });
  assert.equal(toStoreError(bug), bug, "a bug stays a bug (SERVERBUG), not a retry");
});

test("an unreachable database is UNAVAILABLE at open, and the error does not carry the password", async () => {
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  process.env["MAILROOM_TEST_PG_PASSWORD"] = "s3cret-never-shown";
  try {
    await assert.rejects(openPostgresStore({ url: `postgres://mail@127.0.0.1:${port}/mailroom`, passwordEnv: "MAILROOM_TEST_PG_PASSWORD", connectTimeoutMs: 2000 }), (e) => {
      assert.ok(isStoreError(e, "UNAVAILABLE"), String(e));
      assert.ok(!String((e as Error).message).includes("s3cret"));
      return true;
    });
  } finally {
    delete process.env["MAILROOM_TEST_PG_PASSWORD"];
  }
});

if (unavailable !== null) {
  describe("postgresql nodes", { skip: unavailable }, () => undefined);
} else {
  describe("postgresql nodes", () => {
    let cluster: PostgresCluster;
    before(async () => {
      cluster = await startPostgres();
    });
    after(async () => {
      await cluster?.stop();
    });

    async function nodes(count: number, url?: string): Promise<{ url: string; stores: PostgresStore[]; close(): Promise<void> }> {
      const database = url ?? (await cluster.createDatabase("nodes"));
      const stores = await Promise.all(Array.from({ length: count }, () => openPostgresStore({ url: database, maxConnections: 6 })));
      return { url: database, stores, close: async () => void (await Promise.all(stores.map((s) => s.close()))) };
    }

    test("five nodes starting at once migrate once; a newer schema is refused", async () => {
      const { url, stores, close } = await nodes(5);
      const dbName = new URL(url).pathname.slice(1);
      const versions = await cluster.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version", [], dbName);
      assert.deepEqual(versions.map((v) => v.version), PG_MIGRATIONS.map((m) => m.version));
      await stores[0]!.addDomain("example.test");
      assert.equal((await stores[4]!.listDomains()).length, 1, "every node sees one truth");
      await close();
      await cluster.query("INSERT INTO schema_migrations VALUES (999, 'future', 0)", [], dbName);
      await assert.rejects(openPostgresStore({ url }), (e) => isStoreError(e, "UNAVAILABLE") && /newer/.test((e as Error).message));
    });

    test("UIDs become visible in ascending order under concurrent delivery and APPEND from three nodes", async () => {
      const { stores, close } = await nodes(4);
      try {
        const [a, b, c, reader] = stores as [PostgresStore, PostgresStore, PostgresStore, PostgresStore];
        await a.addDomain("example.test");
        const account = await a.createAccount({ address: "u@example.test", passwordHash: "x" });
        const inbox = (await a.getMailbox(account.id, "INBOX"))!;
        let writing = true;
        const violations: string[] = [];
        const watcher = (async () => {
          const seen = new Set<number>();
          let highest = 0;
          while (writing) {
            const uids = (await reader.listMessages(inbox.id)).map((m) => m.uid as number);
            for (const uid of uids) {
              // A UID this reader had not seen must be above every UID it saw before.
              if (!seen.has(uid) && uid < highest) violations.push(`saw ${uid} after ${highest}`);
            }
            for (const uid of uids) seen.add(uid);
            highest = Math.max(highest, ...uids, 0);
          }
        })();
        const writers = [a, b, c].map(async (node, n) => {
          const copies: number[] = [];
          for (let i = 0; i < 40; i++) {
            const bytes = Buffer.from(`Subject: node ${n} message ${i}\r\n\r\nbody ${n}/${i}\r\n`);
            const uid = i % 2 === 0 ? (await node.deliver({ source: bytes, targets: [{ mailboxId: inbox.id }] })).copies[0]!.uid : (await node.append(inbox.id, Readable.from([bytes]))).uid;
            copies.push(uid);
          }
          return copies;
        });
        const all = (await Promise.all(writers)).flat().sort((x, y) => x - y);
        writing = false;
        await watcher;
        assert.deepEqual(all, Array.from({ length: 120 }, (_, i) => i + 1), "no UID lost or given twice");
        assert.deepEqual(violations, []);
        const modseqs = (await reader.listMessages(inbox.id)).map((m) => m.modseq);
        assert.equal(new Set(modseqs).size, 120, "each delivery took its own modseq");
        assert.deepEqual([...modseqs], [...modseqs].sort((x, y) => x - y), "modseq order is UID order");
      } finally {
        await close();
      }
    });

    test("the change feed crosses nodes: B's subscribers see A's delivery, C's see B's flags, every node in one commit order", async () => {
      const { stores, close } = await nodes(3);
      try {
        const [a, b, c] = stores as [PostgresStore, PostgresStore, PostgresStore];
        await a.addDomain("example.test");
        const account = await a.createAccount({ address: "u@example.test", passwordHash: "x" });
        const inbox = (await a.getMailbox(account.id, "INBOX"))!;
        const seenBy = new Map<string, AccountChange[]>();
        for (const [name, node] of [["a", a], ["b", b], ["c", c]] as const) {
          seenBy.set(name, []);
          // Message events only: the account's creation may still be on its way to B and C.
          node.changes.subscribe(account.id, (batch) => seenBy.get(name)!.push(...batch.changes.filter((ch) => ch.kind === "added" || ch.kind === "flags" || ch.kind === "expunged")));
        }
        const started = Date.now();
        const copy = await a.append(inbox.id, Buffer.from("Subject: cross\r\n\r\nnode\r\n"));
        const arrived = async (name: string, test: (c: AccountChange) => boolean) => {
          while (!seenBy.get(name)!.some(test)) {
            assert.ok(Date.now() - started < 1000, `${name} did not see it within 1 s`);
            await new Promise((r) => setTimeout(r, 5));
          }
        };
        assert.ok(seenBy.get("a")!.some((ch) => ch.kind === "added" && ch.uid === copy.uid), "the writer's own subscribers have it when the call returns");
        await arrived("b", (ch) => ch.kind === "added" && ch.uid === copy.uid);
        await b.updateFlags(inbox.id, [copy.uid], { mode: "add", flags: ["\\Seen"] });
        await arrived("c", (ch) => ch.kind === "flags" && ch.flags.includes("\\Seen"));

        // Concurrent writers on all three nodes: every node sees the same events in the same order.
        await Promise.all([a, b, c].map(async (node) => {
          for (let i = 0; i < 15; i++) await node.append(inbox.id, Buffer.from(`Subject: ${i}\r\n\r\n${Math.random()}\r\n`));
        }));
        // A flags change too large for one NOTIFY payload (it goes through change_notices).
        const all = (await a.listMessages(inbox.id)).map((m) => m.uid);
        const keywords = Array.from({ length: 40 }, (_, i) => `$Keyword-with-a-long-name-${i}`);
        await c.updateFlags(inbox.id, all, { mode: "add", flags: keywords });
        const total = seenBy.get("c")!.length;
        while (seenBy.get("a")!.length < total || seenBy.get("b")!.length < total) {
          assert.ok(Date.now() - started < 10_000, `every node catches up: ${seenBy.get("a")!.length} ${seenBy.get("b")!.length} of ${total}`);
          await new Promise((r) => setTimeout(r, 5));
        }
        assert.deepEqual(seenBy.get("a"), seenBy.get("c"));
        assert.deepEqual(seenBy.get("b"), seenBy.get("c"));
        const added = seenBy.get("a")!.filter((ch) => ch.kind === "added").map((ch) => (ch as { uid: number }).uid);
        assert.deepEqual(added, [...added].sort((x, y) => x - y), "UIDs announced in ascending order on every node");
        assert.equal(seenBy.get("b")!.filter((ch) => ch.kind === "flags" && ch.flags.length >= 40).length, all.length, "the oversized batch arrived whole");
      } finally {
        await close();
      }
    });

    test("a POP3 maildrop lease is held by one node, renewed by its holder, released, and lapses when not renewed", async () => {
      const { stores, close } = await nodes(2);
      try {
        const [a, b] = stores as [PostgresStore, PostgresStore];
        await a.addDomain("example.test");
        const account = await a.createAccount({ address: "u@example.test", passwordHash: "x" });
        assert.equal(await a.acquireMaildrop(account.id, "node-a/1", 60_000), true);
        assert.equal(await b.acquireMaildrop(account.id, "node-b/1", 60_000), false, "held on another node");
        assert.equal(await a.acquireMaildrop(account.id, "node-a/1", 60_000), true, "the holder may take it again");
        assert.equal(await b.renewMaildrop(account.id, "node-b/1", 60_000), false, "only the holder renews");
        await b.releaseMaildrop(account.id, "node-b/1");
        assert.equal(await b.acquireMaildrop(account.id, "node-b/1", 60_000), false, "a release by another holder does nothing");
        await a.releaseMaildrop(account.id, "node-a/1");
        assert.equal(await b.acquireMaildrop(account.id, "node-b/1", 300), true);
        assert.equal(await a.acquireMaildrop(account.id, "node-a/2", 60_000), false);
        await new Promise((r) => setTimeout(r, 400));
        assert.equal(await a.acquireMaildrop(account.id, "node-a/2", 60_000), true, "a lease not renewed lapses");
        assert.equal(await b.renewMaildrop(account.id, "node-b/1", 60_000), false, "the lapsed holder learns it lost the lease");
      } finally {
        await close();
      }
    });

    test("a due queue entry is leased by one of three nodes; an expired lease goes to another", async () => {
      const { stores, close } = await nodes(3);
      try {
        const [a] = stores as [PostgresStore];
        const ids: number[] = [];
        for (let i = 0; i < 30; i++) {
          const staged = await a.stageMessage(Buffer.from(`Subject: q${i}\r\n\r\nq${i}\r\n`));
          ids.push((await a.enqueue({ message: staged, mailFrom: "a@example.test", submittedBy: null, recipients: [{ address: `r${i}@example.net`, notify: null, originalRecipient: null }], envelopeId: null, ret: null, bodyType: "7BIT", smtputf8: false })).id);
          staged.discard();
        }
        const now = new Date(Date.now() + 1000);
        const leased = await Promise.all(stores.flatMap((s) => [s.leaseDue(now, 7, 60_000), s.leaseDue(now, 7, 60_000)]));
        const all = leased.flat().map((e) => e.id);
        assert.equal(new Set(all).size, all.length, "no entry leased twice");
        assert.equal(all.length, 30);
        assert.deepEqual(await stores[1]!.leaseDue(now, 10, 60_000), [], "leased entries stay invisible");
        // A node that died holding leases: after the lease, another node takes them.
        const later = new Date(now.getTime() + 61_000);
        const retaken = await stores[2]!.leaseDue(later, 100, 60_000);
        assert.equal(retaken.length, 30);
      } finally {
        await close();
      }
    });

    test("a message of several chunks is stored once for many recipients and read back exactly, whole and in ranges", async () => {
      const { stores, close } = await nodes(2);
      try {
        const [a, b] = stores as [PostgresStore, PostgresStore];
        await a.addDomain("example.test");
        const inboxes: MailboxId[] = [];
        for (const name of ["x", "y", "z"]) {
          const account = await a.createAccount({ address: `${name}@example.test`, passwordHash: "x" });
          inboxes.push((await a.getMailbox(account.id, "INBOX"))!.id);
        }
        const body = Buffer.alloc(CHUNK_BYTES * 2 + 12_345);
        for (let i = 0; i < body.length; i++) body[i] = 0x41 + (i % 26);
        const bytes = Buffer.concat([Buffer.from("Subject: big\r\n\r\n"), body, Buffer.from("\r\n")]);
        // Delivered in odd-sized pieces, as a network stream arrives.
        const pieces: Buffer[] = [];
        for (let at = 0; at < bytes.length; at += 70_001) pieces.push(bytes.subarray(at, at + 70_001));
        await a.deliver({ source: Readable.from(pieces), targets: inboxes.map((mailboxId) => ({ mailboxId, prefix: Buffer.from(`Delivered-To: ${mailboxId}\r\n`) })) });
        assert.equal(await b.blobs.count(), 1, "one copy of the bytes for three recipients");
        const [stored] = await b.getMessages(inboxes[1]!, [1 as Uid]);
        const prefix = Buffer.from(`Delivered-To: ${inboxes[1]}\r\n`);
        const whole = Buffer.concat([prefix, bytes]);
        const read = async (range?: { start: number; end: number }) => {
          const parts: Buffer[] = [];
          for await (const chunk of b.openMessage(stored!, range)) parts.push(chunk as Buffer);
          return Buffer.concat(parts);
        };
        assert.ok((await read()).equals(whole));
        for (const [start, end] of [[0, 5], [prefix.length - 2, CHUNK_BYTES + 3], [CHUNK_BYTES - 1, CHUNK_BYTES * 2 + 1], [whole.length - 10, whole.length + 50]] as const) {
          assert.ok((await read({ start, end })).equals(whole.subarray(start, end)), `${start}-${end}`);
        }
        assert.equal((await b.readMessages(inboxes[1]!, [1 as Uid], { maxSize: whole.length })).get(1 as Uid)?.equals(whole), true);
        // Expunged everywhere: the bytes go with the last copy.
        for (const mailboxId of inboxes) await b.removeMessages(mailboxId, [1 as Uid]);
        assert.equal(await a.blobs.count(), 0);
        const check = await a.checkStore();
        assert.equal(check.remaining, 0, JSON.stringify(check));
      } finally {
        await close();
      }
    });

    test("a stopped database makes operations UNAVAILABLE; after it is back the same store serves again", async () => {
      const { stores, close } = await nodes(1);
      try {
        const [store] = stores as [PostgresStore];
        await store.addDomain("example.test");
        const account = await store.createAccount({ address: "u@example.test", passwordHash: "x" });
        const inbox = (await store.getMailbox(account.id, "INBOX"))!;
        await cluster.stopServer("fast");
        try {
          await assert.rejects(store.append(inbox.id, Buffer.from("Subject: x\r\n\r\nx\r\n")), (e) => isStoreError(e, "UNAVAILABLE"));
          await assert.rejects(store.listMessages(inbox.id), (e) => isStoreError(e, "UNAVAILABLE"));
        } finally {
          await cluster.startServer();
        }
        const copy = await store.append(inbox.id, Buffer.from("Subject: y\r\n\r\ny\r\n"));
        assert.equal(copy.uid, 1, "the failed append took no UID");
      } finally {
        await close();
      }
    });
  });
}
