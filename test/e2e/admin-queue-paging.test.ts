// The admin queue page (/admin/queue) and the queue counts with more entries than one page: the
// counts come from the store (QueueStore.countQueue), so the dashboard, the queue page and
// GET /api/v1/status say 600 however many rows a page shows, and the queue page walks the queue
// with the same keyset cursor as GET /api/v1/queue ({entries, next}) until every entry was shown
// once. Over real HTTP with a session cookie, as a browser would.
import { test } from "node:test";
import assert from "node:assert/strict";
import { hashPassword } from "../../src/auth/index.js";
import { CHEAP_HASH_PARAMS } from "../harness/temp-store.js";
import { startFullServer } from "../harness/full-server.js";

const ENTRIES = 600;

test("admin queue page: 600 queued entries are counted right and reached page by page through the next link", async () => {
  // remote.test goes to a closed port: an entry the worker tries anyway is deferred for an hour and stays queued.
  const server = await startFullServer({ extraToml: `[http]\nhttp_port = 0\nhttps_port = 0\naddress = "127.0.0.1"\n[outbound]\nroutes = { "remote.test" = "127.0.0.1:1" }\nmta_sts = false\nretry_schedule = ["1h"]\n` });
  try {
    await server.server.store.webAuth!.addAdminUser("root", await hashPassword("correct horse battery", { params: CHEAP_HASH_PARAMS }), new Date());
    const port = server.server.http!.bound.find((b) => b.scheme === "http")!.port;
    const base = `http://127.0.0.1:${port}`;
    const queue = server.server.store.queue;
    const staged = await server.server.store.mail.stageMessage(Buffer.from("Subject: q\r\n\r\nbody\r\n"));
    const ids: number[] = [];
    for (let i = 0; i < ENTRIES; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, ENTRIES - i) }, (_, j) =>
          queue.enqueue({ message: staged, mailFrom: "alice@example.org", submittedBy: "alice@example.org", recipients: [{ address: `r${i + j}@remote.test`, notify: null, originalRecipient: null }], envelopeId: null, ret: null, bodyType: "7BIT", smtputf8: false }),
        ),
      );
      for (const entry of batch) {
        ids.push(entry.id);
        // Not due for an hour (a lease the worker took already makes this fail: that entry is deferred anyway).
        await queue.recordAttempt(entry.id, [], new Date(Date.now() + 3_600_000)).catch(() => undefined);
      }
    }
    staged.discard();

    const login = await fetch(`${base}/api/v1/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "root", password: "correct horse battery" }) });
    assert.equal(login.status, 200);
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const get = async (path: string): Promise<string> => {
      const response = await fetch(base + path, { headers: { cookie }, redirect: "manual" });
      assert.equal(response.status, 200, path);
      return response.text();
    };

    assert.match(await get("/admin"), new RegExp(`>${ENTRIES} message\\(s\\) in the queue<`), "the dashboard counts every entry");
    const status = (await (await fetch(`${base}/api/v1/status`, { headers: { cookie } })).json()) as { queue: number };
    assert.equal(status.queue, ENTRIES, "GET /api/v1/status counts every entry");

    const seen: number[] = [];
    let path: string | null = "/admin/queue";
    let pages = 0;
    while (path !== null) {
      const html = await get(path);
      pages += 1;
      assert.match(html, new RegExp(`<p>${ENTRIES} message\\(s\\) waiting for delivery`), `the count on page ${pages} is the whole queue's`);
      seen.push(...[...html.matchAll(/<tr data-queue-id="(\d+)">/g)].map((m) => Number(m[1])));
      const next = /<a href="(\/admin\/queue\?after=[^"]+)" rel="next">Next page<\/a>/.exec(html);
      path = next ? next[1]!.replace(/&amp;/g, "&") : null;
      assert.ok(pages <= 10, "the pages end");
    }
    assert.ok(pages >= 3, `600 entries take several pages (${pages})`);
    const byId = (a: number, b: number) => a - b;
    assert.deepEqual([...seen].sort(byId), [...ids].sort(byId), "every entry is shown once");

    const bad = await fetch(`${base}/admin/queue?after=nonsense`, { headers: { cookie } });
    assert.equal(bad.status, 400, "a malformed cursor is a clear error");
  } finally {
    await server.stop();
  }
});
