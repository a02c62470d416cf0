// `mailroom queue list` on a queue of 3,000 entries, paged and filtered in the store through the
// admin operation the API also serves (admin/operations/outbound.ts queuePage): the operation
// walks the whole queue with its cursor and every filter; the real `mailroom` binary prints one
// bounded page, the next one from the cursor it printed, a filtered page and a clear error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createAdminOperations } from "../../src/admin/operations/index.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { makeScratch, runMailroom } from "../harness/mailroom-process.js";

const CHEAP = `[auth]\nargon2_memory_kib = 1024\nargon2_time_cost = 1\n[server]\nhostname = "mx.example.org"\n`;
const TOTAL = 3000;
const domainOf = (i: number) => (i % 3 === 0 ? "a" : "b");

test("queue list pages 3,000 entries: bounded pages, a cursor through all of them, filters by status, domain and recipient", async () => {
  const s = await makeScratch(CHEAP);
  try {
    const store = await openSqliteStore({ dataDir: s.dataDir });
    try {
      const staged = await store.stageMessage(Buffer.from("From: alice@example.org\r\nSubject: bulk\r\n\r\nhello\r\n"));
      // Every 3rd entry to a.test, the rest to b.test; every 10th deferred; every 100th held.
      for (let start = 0; start < TOTAL; start += 100) {
        await Promise.all(
          Array.from({ length: 100 }, async (_, k) => {
            const i = start + k;
            const address = `rcpt${i}@${domainOf(i)}.test`;
            const entry = await store.enqueue({ message: staged, mailFrom: "alice@example.org", submittedBy: "alice@example.org", recipients: [{ address, notify: null, originalRecipient: null }], envelopeId: null, ret: null, bodyType: "7BIT", smtputf8: false });
            if (i % 100 === 0) await store.recordAttempt(entry.id, [], new Date(Date.UTC(9000, 0, 1)));
            else if (i % 10 === 0) await store.recordAttempt(entry.id, [{ address, state: "deferred", reply: "451 later" }], new Date(Date.now() + 3_600_000));
          }),
        );
      }
      staged.discard();

      // The operation itself (what the CLI and GET /api/v1/queue call): the whole queue by cursor.
      const ops = createAdminOperations({ accounts: store, hashPassword: async () => "x", outbound: { queue: store, dkim: { keyDir: s.dataDir, selector: "s" }, hostname: "mx.example.org", listeners: [] } }).outbound;
      const seen: number[] = [];
      let after: string | undefined;
      let pages = 0;
      const started = Date.now();
      do {
        const page = await ops.queuePage({ limit: 700, after });
        assert.ok(page.entries.length <= 700);
        seen.push(...page.entries.map((e) => e.id));
        after = page.next ?? undefined;
        pages += 1;
      } while (after !== undefined && pages < 20);
      const walkMs = Date.now() - started;
      assert.equal(pages, 5);
      assert.equal(seen.length, TOTAL);
      assert.equal(new Set(seen).size, TOTAL, "no entry twice");
      assert.deepEqual(seen, [...seen].sort((x, y) => x - y), "oldest first");
      // Multiples of 30 below 3,000 (100) less the held multiples of 300 (10).
      assert.equal((await ops.queuePage({ status: "deferred", domain: "A.test", limit: 1000 })).entries.length, 90);
      assert.equal((await ops.queuePage({ status: "held", limit: 1000 })).entries.length, 30);
      assert.equal((await ops.queuePage({ status: "pending", limit: 1000 })).entries.length, 1000);
      assert.deepEqual((await ops.queuePage({ to: "RCPT7@b.test" })).entries.map((e) => e.recipients[0]!.address), ["rcpt7@b.test"]);
      await assert.rejects(ops.queuePage({ status: "stuck" }), /status must be one of pending, deferred, held/);
      await assert.rejects(ops.queuePage({ limit: 5000 }), /limit must be from 1 to 1000/);
      await assert.rejects(ops.queuePage({ after: "1.2.3" }), /not a queue page cursor/);
      console.log(`queuePage: ${TOTAL} entries in ${pages} pages of 700 in ${walkMs} ms`);
    } finally {
      await store.close();
    }

    // The binary: one page, bounded; the next from the printed cursor; a filter; an error.
    const run = (args: string[]) => runMailroom(args, { env: s.env, timeoutMs: 120_000 });
    const entryIds = (stdout: string) => [...stdout.matchAll(/^(\d+) {2}\S+ {2}\d+ octets/gm)].map((m) => Number(m[1]));
    const started = Date.now();
    const first = await run(["queue", "list"]);
    const firstMs = Date.now() - started;
    assert.equal(first.code, 0, first.stderr);
    assert.equal(entryIds(first.stdout).length, 50, "the default page");
    assert.ok(first.stdout.split("\n").length <= 102, "bounded output: two lines an entry and the continuation");
    const cursor = /^more: mailroom queue list --after (\d+\.\d+)$/m.exec(first.stdout)?.[1];
    assert.ok(cursor, first.stdout.slice(-300));
    const second = await run(["queue", "list", "--after", cursor, "--limit", "20"]);
    assert.equal(second.code, 0, second.stderr);
    const secondIds = entryIds(second.stdout);
    assert.equal(secondIds.length, 20);
    assert.ok(secondIds[0]! > Math.max(...entryIds(first.stdout)), "the next page starts after the first");
    assert.match(second.stdout, /^more: mailroom queue list --after \d+\.\d+ --limit 20$/m);
    const filtered = await run(["queue", "list", "--status", "deferred", "--domain", "a.test", "--limit", "1000"]);
    assert.equal(filtered.code, 0, filtered.stderr);
    assert.equal(entryIds(filtered.stdout).length, 90);
    assert.match(filtered.stdout, /deferred {2}<rcpt30@a\.test> {2}attempts 1 {2}last: 451 later/);
    assert.doesNotMatch(filtered.stdout, /^more:/m);
    const bad = await run(["queue", "list", "--status", "stuck"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /status must be one of pending, deferred, held/);
    console.log(`mailroom queue list, first page of ${TOTAL}: ${firstMs} ms (CLI process start included)`);
  } finally {
    await s.cleanup();
  }
});
