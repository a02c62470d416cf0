// The admin dashboard of a PostgreSQL cluster shows the cluster's totals (store/admin-history-store.ts):
// two in-process nodes on one database take mail over SMTP (python's smtplib), and node A's
// /api/v1/stats and /api/v1/deliveries count node B's messages too once B has written its minute
// (at each minute's end, or, as here, at its stop).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { hashPassword } from "../../src/auth/index.js";
import { createAdminOperations } from "../../src/admin/operations/index.js";
import { CHEAP_HASH_PARAMS } from "../harness/temp-store.js";
import { startFullServer, type FullServer } from "../harness/full-server.js";
import { postgresUnavailable, startPostgres, type PostgresCluster } from "../harness/postgres.js";

const run = promisify(execFile);
const skip = postgresUnavailable() ?? false;
let cluster: PostgresCluster;
before(async () => {
  if (!skip) cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const sum = (values: number[] | undefined) => (values ?? []).reduce((a, b) => a + b, 0);

async function send(server: FullServer, subjects: string[]): Promise<void> {
  const out = await run("python3", ["-c", `
import smtplib
with smtplib.SMTP("127.0.0.1", ${server.portOf("smtp")}, local_hostname="sender.test") as s:
    for subject in ${JSON.stringify(subjects)}:
        s.sendmail("carol@sender.test", ["alice@example.org"], "From: carol@sender.test\\r\\nSubject: %s\\r\\n\\r\\nhi\\r\\n" % subject)
print("sent")
`], { timeout: 120_000 });
  assert.match(out.stdout, /sent/);
}

test("PostgreSQL: node A's dashboard and delivery log include node B's messages", { skip, timeout: 280_000 }, async () => {
  const url = await cluster.createDatabase("history");
  const store = `[store]\nbackend = "postgresql"\nurl = "${url}"\n`;
  const a = await startFullServer({ protocols: ["smtp"], extraToml: `${store}[http]\nhttp_port = 0\nhttps_port = 0\naddress = "127.0.0.1"\n` });
  let b: FullServer | null = null;
  try {
    b = await startFullServer({ protocols: ["smtp"], extraToml: `${store}[http]\nhttp_port = 0\nhttps_port = 0\naddress = "127.0.0.1"\n` });
    await a.server.store.webAuth!.addAdminUser("root", await hashPassword("correct horse battery", { params: CHEAP_HASH_PARAMS }), new Date());
    const ops = createAdminOperations({ accounts: a.server.store.accounts, hashPassword: (p) => hashPassword(p, { params: CHEAP_HASH_PARAMS }) });
    await ops.addDomain("example.org");
    await ops.addUser({ address: "alice@example.org", password: "alice password 1" });

    await send(a, ["on a 1", "on a 2"]);
    await send(b, ["on b 1"]);
    await b.stop();
    b = null;

    const base = `http://127.0.0.1:${a.server.http!.bound.find((x) => x.scheme === "http")!.port}`;
    const login = await fetch(`${base}/api/v1/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "root", password: "correct horse battery" }) });
    assert.equal(login.status, 200);
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const api = async (path: string): Promise<Json> => (await fetch(base + path, { headers: { cookie } })).json();
    const stats = await api("/api/v1/stats?minutes=10");
    assert.equal(sum(stats.series.received), 3, `A's 2 and B's 1: ${JSON.stringify(stats.series)}`);
    assert.ok(sum(stats.series["connections.smtp"]) >= 2, "a connection on each node");
    const accepted = ((await api("/api/v1/deliveries?event=accepted")) as Json[]).map((e) => e.detail);
    assert.equal(accepted.length, 3, JSON.stringify(accepted));
    const rows = await cluster.query<{ n: string }>("SELECT sum(count)::text AS n FROM admin_minute_counts WHERE name = 'received'", [], new URL(url).pathname.slice(1));
    assert.equal(Number(rows[0]!.n), 1, "only B's count is written yet; A's running minute is still in its memory");
  } finally {
    await b?.stop();
    await a.stop();
  }
});
