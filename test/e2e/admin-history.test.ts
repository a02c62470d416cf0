// The admin dashboard's history over a restart (store/admin-history-store.ts), over real sockets:
// messages sent with Python's smtplib are counted by /api/v1/stats and listed by
// /api/v1/deliveries; after the server stops and starts again on the same data dir, both still
// show them (the running minute is written at stop, the waiting deliveries too).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { hashPassword } from "../../src/auth/index.js";
import { createAdminOperations } from "../../src/admin/operations/index.js";
import { CHEAP_HASH_PARAMS } from "../harness/temp-store.js";
import { startFullServer, type FullServer } from "../harness/full-server.js";

const run = promisify(execFile);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function signIn(base: string): Promise<(path: string) => Promise<Json>> {
  const login = await fetch(`${base}/api/v1/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "root", password: "correct horse battery" }) });
  assert.equal(login.status, 200);
  const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
  return async (path) => {
    const response = await fetch(base + path, { headers: { cookie } });
    assert.equal(response.status, 200, path);
    return response.json();
  };
}

const baseOf = (server: FullServer) => `http://127.0.0.1:${server.server.http!.bound.find((b) => b.scheme === "http")!.port}`;
const sum = (values: number[] | undefined) => (values ?? []).reduce((a, b) => a + b, 0);

test("the dashboard's counts per minute and the delivery log survive a restart", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-history-"));
  try {
    let server = await startFullServer({ dataDir });
    try {
      await server.server.store.webAuth!.addAdminUser("root", await hashPassword("correct horse battery", { params: CHEAP_HASH_PARAMS }), new Date());
      await server.server.store.accounts.addDomain("example.org");
      await createAdminOperations({ accounts: server.server.store.accounts, hashPassword: (p) => hashPassword(p, { params: CHEAP_HASH_PARAMS }) }).addUser({ address: "alice@example.org", password: "alice password 1" });
      const sent = await run("python3", ["-c", `
import smtplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL("127.0.0.1", ${server.portOf("submissions")}, context=ctx, local_hostname="py.test")
s.login("alice@example.org", "alice password 1")
for i in range(3):
    s.sendmail("alice@example.org", ["alice@example.org"], "From: alice@example.org\\r\\nSubject: note %d\\r\\n\\r\\nhi\\r\\n" % i)
s.quit()
print("sent")
`], { timeout: 60_000 });
      assert.match(sent.stdout, /sent/);
      const api = await signIn(baseOf(server));
      const before = await api("/api/v1/stats?minutes=10");
      assert.equal(sum(before.series.received), 3, JSON.stringify(before.series));
      assert.equal((await api("/api/v1/deliveries?event=accepted")).length, 3);
    } finally {
      await server.stop();
    }

    server = await startFullServer({ dataDir });
    try {
      const api = await signIn(baseOf(server));
      const stats = await api("/api/v1/stats?minutes=10");
      assert.equal(sum(stats.series.received), 3, `received, after the restart: ${JSON.stringify(stats.series)}`);
      assert.equal(sum(stats.series.delivered), 3, "delivered locally");
      assert.ok(sum(stats.series["connections.submissions"]) >= 1, "the submissions connection");
      const log: Json[] = await api("/api/v1/deliveries");
      const accepted = log.filter((e) => e.event === "accepted");
      assert.equal(accepted.length, 3, JSON.stringify(log));
      assert.deepEqual(accepted[0].to, ["alice@example.org"]);
      assert.equal(accepted[0].from, "alice@example.org");
      assert.match(accepted[0].detail, /delivered to INBOX|queued: 1 local/);
      assert.equal((await api("/api/v1/deliveries?text=ALICE%40EXAMPLE&limit=2")).length, 2, "filtered and limited in the store");
    } finally {
      await server.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test("with the admin web off, the delivery log is not written to the store", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-history-off-"));
  try {
    let server = await startFullServer({ dataDir, extraToml: `[http]\nhttp_port = 0\nhttps_port = 0\naddress = "127.0.0.1"\nadmin = false\n` });
    try {
      await server.server.store.accounts.addDomain("example.org");
      await createAdminOperations({ accounts: server.server.store.accounts, hashPassword: (p) => hashPassword(p, { params: CHEAP_HASH_PARAMS }) }).addUser({ address: "alice@example.org", password: "alice password 1" });
      const sent = await run("python3", ["-c", `
import smtplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL("127.0.0.1", ${server.portOf("submissions")}, context=ctx, local_hostname="py.test")
s.login("alice@example.org", "alice password 1")
s.sendmail("alice@example.org", ["alice@example.org"], "From: alice@example.org\\r\\nSubject: note\\r\\n\\r\\nhi\\r\\n")
s.quit()
print("sent")
`], { timeout: 60_000 });
      assert.match(sent.stdout, /sent/);
    } finally {
      // stop() flushes what waits: with the admin web off nothing does.
      await server.stop();
    }
    // The same data dir with the admin web on: the log it reads from the store is empty.
    server = await startFullServer({ dataDir });
    try {
      await server.server.store.webAuth!.addAdminUser("root", await hashPassword("correct horse battery", { params: CHEAP_HASH_PARAMS }), new Date());
      const api = await signIn(baseOf(server));
      assert.deepEqual(await api("/api/v1/deliveries"), []);
    } finally {
      await server.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
