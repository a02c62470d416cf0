// `mailroom serve` started as root: it creates the server user when missing, binds a privileged
// port, then runs as that user (checked in /proc/<pid>/status: real, effective, saved and
// filesystem ids), still serves, and everything in the data directory, including what it writes
// after the drop and what a root-run admin command writes, belongs to that user. Needs root (as
// the tests run here and in CI); elsewhere it is skipped, saying why.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { makeScratch, runMailroom, serveConfig, startServeProcess } from "../harness/mailroom-process.js";
import { python } from "../harness/smtp-clients.js";

const isRoot = process.getuid?.() === 0;

function passwd(name: string): { uid: number; gid: number } | null {
  try {
    const [, , uid, gid] = execFileSync("getent", ["passwd", name], { encoding: "utf8" }).trim().split(":");
    return { uid: Number(uid), gid: Number(gid) };
  } catch {
    return null;
  }
}

/** Every path under dir whose owner is not uid:gid. */
async function notOwnedBy(dir: string, uid: number, gid: number): Promise<string[]> {
  const wrong: string[] = [];
  const visit = async (path: string) => {
    const info = await lstat(path);
    if (info.uid !== uid || info.gid !== gid) wrong.push(`${path} (${info.uid}:${info.gid})`);
    if (info.isDirectory()) for (const entry of await readdir(path)) await visit(join(path, entry));
  };
  await visit(dir);
  return wrong;
}

function idsOf(status: string, field: "Uid" | "Gid"): number[] {
  const line = new RegExp(`^${field}:\\s+(.*)$`, "m").exec(status);
  assert.ok(line, `no ${field} line`);
  return line[1]!.trim().split(/\s+/).map(Number);
}

test("started as root: binds a privileged port, then runs as server.user, which owns the data directory", { skip: isRoot ? false : "needs root: it starts the server as root and creates a system user" }, async () => {
  const user = `mrt${randomBytes(4).toString("hex")}`;
  // A port below 1024 only root may bind; a random one so parallel runs do not collide.
  const port = 600 + Math.floor(Math.random() * 300);
  const s = await makeScratch(
    serveConfig({
      server: `user = "${user}"\nport_fallback_offset = 0`,
      listeners: [{ protocol: "smtp", port }, { protocol: "submission" }],
    }),
  );
  try {
    assert.equal(passwd(user), null);
    // Before the first start, as root: the data dir is made by root.
    assert.equal((await runMailroom(["--init", "domain", "add", "example.org"], { env: s.env })).code, 0);
    assert.equal((await runMailroom(["user", "add", "alice@example.org"], { env: s.env, input: "alice-pass\n" })).code, 0);

    const server = await startServeProcess(s.env);
    try {
      const account = passwd(user);
      assert.ok(account, "serve created the user");
      assert.notEqual(account.uid, 0);
      assert.match(server.logs(), new RegExp(`"event":"privileges.user_created".*"user":"${user}"`));
      assert.match(server.logs(), /"event":"privileges.dropped"/);
      assert.match(server.banner, new RegExp(`smtp\\s+127\\.0\\.0\\.1:${port}\\s`), "the privileged port was bound, not moved");

      const status = await readFile(`/proc/${server.child.pid}/status`, "utf8");
      assert.deepEqual(idsOf(status, "Uid"), [account.uid, account.uid, account.uid, account.uid], "real, effective, saved and filesystem uid");
      assert.deepEqual(idsOf(status, "Gid"), [account.gid, account.gid, account.gid, account.gid]);
      assert.match(status, /^CapEff:\s+0+$/m, "no capability left");

      // Still serves: a delivery over SMTP writes the message as the user.
      const send = await python(
        `
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.sendmail("bob@remote.example", ["alice@example.org"], b"From: bob@remote.example\\r\\nTo: alice@example.org\\r\\nSubject: after the drop\\r\\n\\r\\nhello\\r\\n")
s.quit()
`,
        port,
      );
      assert.equal(send.code, 0, send.stderr);
      // A root-run admin command while the server runs writes as the server user too.
      const add = await runMailroom(["domain", "add", "example.net"], { env: s.env });
      assert.equal(add.code, 0, add.stderr);
      assert.deepEqual(await notOwnedBy(s.dataDir, account.uid, account.gid), []);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  } finally {
    try {
      execFileSync("userdel", [user], { stdio: "ignore" });
    } catch {
      // Never created.
    }
    await s.cleanup();
  }
});

test("server.user = root is refused", async () => {
  const s = await makeScratch('[server]\nuser = "root"\n');
  try {
    const check = await runMailroom(["config", "check"], { env: s.env });
    assert.equal(check.code, 78);
    assert.match(check.stderr, /^config error: server\.user: expected an unprivileged user name, got "root"$/m);
  } finally {
    await s.cleanup();
  }
});

test("started as root with a data directory the server user cannot reach: the start fails and says why", { skip: isRoot ? false : "needs root" }, async () => {
  const user = `mrt${randomBytes(4).toString("hex")}`;
  const s = await makeScratch(`[server]\nuser = "${user}"\n[[listeners]]\nprotocol = "smtp"\naddress = "127.0.0.1"\nport = 0\n`);
  // Like a checkout under /root: the parent of the data dir is closed to everyone else.
  await chmod(s.dir, 0o700);
  try {
    await assert.rejects(startServeProcess(s.env), new RegExp(`server\\.data_dir: user "${user}" cannot reach .*/data \\(a parent directory is closed to it\\)`));
  } finally {
    try {
      execFileSync("userdel", [user], { stdio: "ignore" });
    } catch {
      // Never created.
    }
    await s.cleanup();
  }
});
