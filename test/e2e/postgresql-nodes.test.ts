// Two real `mailroom serve` processes on one PostgreSQL database (issue 15, "many nodes, one
// truth"): a message delivered by SMTP on node A shows in an IDLE session on node B within 1 s;
// a POP3 maildrop locked on node A is -ERR [IN-USE] on node B; once node A is killed with
// SIGKILL, its lock lapses within the lease (a few seconds) and node B serves the maildrop.
import assert from "node:assert/strict";
import { spawn as spawnChild } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess } from "../harness/mailroom-process.js";
import { postgresUnavailable, startPostgres, type PostgresCluster } from "../harness/postgres.js";
import { run } from "../harness/smtp-clients.js";

const skip = postgresUnavailable() ?? false;
let cluster: PostgresCluster;
before(async () => {
  if (!skip) cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

const POP3 = String.raw`
import poplib, sys, json
port, mode = int(sys.argv[1]), sys.argv[2]
pop = poplib.POP3("127.0.0.1", port, timeout=20)
pop.user("alice@example.org")
try:
    pop.pass_("a long password")
except poplib.error_proto as e:
    print(json.dumps({"login": e.args[0].decode()}))
    sys.exit(0)
print(json.dumps({"login": "ok", "stat": list(pop.stat())}), flush=True)
if mode == "hold":
    sys.stdin.read()
pop.quit()
`;

test("two nodes on one database: cross-node IDLE within 1 s; the POP3 lock holds across nodes and dies with a killed node", { skip, timeout: 180_000 }, async () => {
  const url = await cluster.createDatabase("nodes");
  const scratch = await makeScratch();
  const config = serveConfig({
    listeners: [{ protocol: "smtp" }, { protocol: "imap" }, { protocol: "pop3" }],
    plaintextAuthOnLoopback: true,
    extra: `[store]\nbackend = "postgresql"\nurl = "${url}"\n`,
  });
  await writeFile(scratch.configFile, config);
  // Each node has its own data dir (certificates, control socket); the store is the database.
  const dataDirB = join(scratch.dir, "data-b");
  await mkdir(dataDirB, { recursive: true, mode: 0o700 });
  const envB = { ...scratch.env, MAILROOM_DATA_DIR: dataDirB };
  try {
    assert.equal((await runMailroom(["domain", "add", "example.org"], { env: scratch.env })).code, 0);
    assert.equal((await runMailroom(["user", "add", "alice@example.org"], { env: scratch.env, input: "a long password\n" })).code, 0);
    const nodeA = await startServeProcess(scratch.env);
    const nodeB = await startServeProcess(envB);
    try {
      const a = { smtp: listenerPort(nodeA.banner, "smtp"), pop3: listenerPort(nodeA.banner, "pop3") };
      const b = { imap: listenerPort(nodeB.banner, "imap"), pop3: listenerPort(nodeB.banner, "pop3") };

      // IDLE on B, delivery on A.
      const imap = await RawImapClient.open(b.imap);
      assert.match(await imap.command("a1", 'LOGIN alice@example.org "a long password"'), /a1 OK/);
      assert.match(await imap.command("a2", "SELECT INBOX"), /\* 0 EXISTS/);
      imap.send("a3 IDLE\r\n");
      await imap.until((t) => t.includes("+ "));
      imap.take();
      const smtp = await run("python3", ["-c", `import smtplib\nwith smtplib.SMTP("127.0.0.1", ${a.smtp}, timeout=20) as s: s.sendmail("x@elsewhere.example", ["alice@example.org"], "Subject: to node A\\r\\n\\r\\nhi\\r\\n")`]);
      assert.equal(smtp.code, 0, smtp.stderr);
      const acknowledged = Date.now();
      await imap.until((t) => t.includes("* 1 EXISTS"), 1000);
      assert.ok(Date.now() - acknowledged < 1000, "seen on node B within 1 s of node A's 250");
      imap.send("DONE\r\n");
      await imap.until((t) => t.includes("a3 OK"));
      imap.socket.destroy();

      // The POP3 lock on A holds on B.
      const holder = spawnPop3(a.pop3);
      const held = JSON.parse(await holder.firstLine) as { login: string; stat: number[] };
      assert.equal(held.login, "ok");
      const refused = await run("python3", ["-c", POP3, String(b.pop3), "quit"]);
      assert.match(refused.stdout, /-ERR \[IN-USE\]/, refused.stdout + refused.stderr);

      // Node A dies holding it: the lease lapses (10 s at most) and B serves the maildrop.
      nodeA.child.kill("SIGKILL");
      holder.kill();
      const killed = Date.now();
      let login = "";
      while (Date.now() - killed < 20_000) {
        const attempt = await run("python3", ["-c", POP3, String(b.pop3), "quit"]);
        login = (JSON.parse(attempt.stdout) as { login: string }).login;
        if (login === "ok") break;
        assert.match(login, /IN-USE/);
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(login, "ok", "node B serves the maildrop once the dead node's lease ends");
      assert.ok(Date.now() - killed < 15_000, `the lock lapsed within its lease (${Date.now() - killed} ms)`);
    } finally {
      await nodeA.stop("SIGKILL");
      assert.equal(await nodeB.stop(), 0);
    }
  } finally {
    await scratch.cleanup();
  }
});

/** A POP3 client that logs in and holds the session open until killed. */
function spawnPop3(port: number): { firstLine: Promise<string>; kill(): void } {
  const child = spawnChild("python3", ["-c", POP3, String(port), "hold"]);
  const firstLine = new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.includes("\n")) resolve(out.split("\n")[0]!);
    });
    child.on("close", () => reject(new Error(`pop3 holder exited: ${out}`)));
  });
  firstLine.catch(() => undefined);
  return { firstLine, kill: () => void child.kill("SIGKILL") };
}
