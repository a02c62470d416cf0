// `mailroom share`, `share list` and `unshare` as an operator runs them: offline (on the store on
// disk) and against a running server (over the control socket), where bob's open IMAP session
// (python imaplib) sees the grant at once and the revoke at its next command.
import assert from "node:assert/strict";
import { test } from "node:test";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess } from "../harness/mailroom-process.js";
import { runPython } from "../harness/python.js";

const BOB = `
import imaplib, sys, time
b = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
b.login("bob@example.org", "bob long password")
typ, data = b.list('""', '"Shared/*"')
print("list", sorted(d.decode() for d in data if d))
typ, data = b.select('"Shared/alice@example.org/Projects"')
print("select", typ, data[0].decode())
print("ready", flush=True)
sys.stdin.readline()
typ, data = b.fetch("1:*", "(FLAGS)")
print("after", typ, data[0].decode())
`;

test("mailroom share / share list / unshare, offline and against a running server", async () => {
  const s = await makeScratch(serveConfig({ plaintextAuthOnLoopback: true, listeners: [{ protocol: "imap" }] }));
  try {
    const store = await openSqliteStore({ dataDir: s.dataDir });
    await store.addDomain("example.org");
    await store.close();
    const run = (args: string[], input?: string) => runMailroom(args, { env: s.env, input });
    assert.equal((await run(["user", "add", "alice@example.org"], "alice long password\n")).code, 0);
    assert.equal((await run(["user", "add", "bob@example.org"], "bob long password\n")).code, 0);

    // Offline: on the store on disk.
    assert.match((await run(["share", "list"])).stdout, /nothing is shared/);
    const granted = await run(["share", "alice@example.org", "INBOX", "anyone", "lr"]);
    assert.equal(granted.code, 0, granted.stderr);
    assert.match(granted.stdout, /anyone has lr on alice@example\.org INBOX/);
    const bad = await run(["share", "alice@example.org", "INBOX", "bob@example.org", "lrz"]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /unknown right/);
    const missing = await run(["share", "alice@example.org", "Nowhere", "bob@example.org", "lr"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /has no mailbox Nowhere/);
    assert.equal((await run(["share", "alice@example.org", "INBOX", "nobody@example.org", "lr"])).code, 1);
    assert.equal((await run(["unshare", "alice@example.org", "INBOX", "anyone"])).code, 0);
    assert.match((await run(["share", "list", "alice@example.org"])).stdout, /nothing is shared/);

    const server = await startServeProcess(s.env);
    try {
      // Through the running server: alice's folder for bob.
      const imap = listenerPort(server.banner, "imap");
      const alice = await runPython(
        `
import imaplib, sys
a = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
a.login("alice@example.org", "alice long password")
a.create("Projects")
a.append("Projects", None, None, b"Subject: plan\\r\\n\\r\\nthe plan\\r\\n")
print("ok")
`,
        [String(imap)],
      );
      assert.match(alice, /ok/);
      const shared = await run(["share", "alice@example.org", "Projects", "bob@example.org", "all"]);
      assert.equal(shared.code, 0, shared.stderr);
      assert.match(shared.stdout, /bob@example\.org has lrswipkxteacd on alice@example\.org Projects/);
      assert.equal((await run(["share", "alice@example.org", "Projects", "bob@example.org", "--", "-xtea"])).code, 0);
      assert.match((await run(["share", "list"])).stdout, /^alice@example\.org {2}Projects {2}bob@example\.org {2}lrswipkc$/m);

      // bob's session sees the share; the unshare refuses his next command.
      const { spawn } = await import("node:child_process");
      const python = spawn("python3", ["-c", BOB, String(imap)], { stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      let err = "";
      python.stdout.on("data", (c: Buffer) => (out += c.toString()));
      python.stderr.on("data", (c: Buffer) => (err += c.toString()));
      const deadline = Date.now() + 60_000;
      while (!out.includes("ready") && Date.now() < deadline && python.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      assert.match(out, /Shared\/alice@example\.org\/Projects/, err);
      assert.match(out, /select OK 1/, err);
      assert.equal((await run(["unshare", "alice@example.org", "Projects", "bob@example.org"])).code, 0);
      python.stdin.write("\n");
      await new Promise((resolve) => python.on("close", resolve));
      assert.match(out, /after NO \[b'\[NOPERM\]|after NO/, `${out}\n${err}`);
    } finally {
      await server.stop();
    }
  } finally {
    await s.cleanup();
  }
});
