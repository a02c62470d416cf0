// POP3 over real sockets with real clients: python3 poplib (plain with allow_plaintext_auth,
// STLS, POP3S, AUTH PLAIN), curl (pop3:// with STLS, pop3s://) and Debian's fetchmail (with and
// without --keep, into an mda file), the server state checked through the store afterwards.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startPop3Harness, type Pop3Harness } from "../harness/pop3-harness.js";
import { python, run } from "../harness/smtp-clients.js";

const FIRST = "From: bob@example.org\r\nTo: alice@example.org\r\nSubject: first\r\n\r\nHello Alice\r\n";
const SECOND = "From: bob@example.org\r\nTo: alice@example.org\r\nSubject: second\r\n\r\n.leading dot\r\nbye\r\n";

async function withHarness(options: Parameters<typeof startPop3Harness>[0], body: (h: Pop3Harness) => Promise<void>): Promise<void> {
  const h = await startPop3Harness(options);
  try {
    await h.deliver(h.accounts.alice, FIRST);
    await h.deliver(h.accounts.alice, SECOND);
    await body(h);
  } finally {
    await h.stop();
  }
}

const remainingUids = async (h: Pop3Harness) => (await h.temp.store.listMessages((await h.inbox(h.accounts.alice)).id)).map((m) => m.uid as number);

const POPLIB_SESSION = `
import poplib, ssl, sys, json, base64
port, mode = int(sys.argv[1]), MODE
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
if mode == "pop3s":
    p = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=10)
else:
    p = poplib.POP3("127.0.0.1", port, timeout=10)
caps = p.capa()
if mode == "stls":
    p.stls(context=ctx)
if mode == "auth-plain":
    p.stls(context=ctx)
    token = base64.b64encode(b"\\0alice@example.org\\0alice-pass").decode()
    p._shortcmd("AUTH PLAIN " + token)
else:
    p.user("alice@example.org"); p.pass_("alice-pass")
count, octets = p.stat()
listing = p.list()[1]
uidl = p.uidl()[1]
resp, lines, size = p.retr(2)
p.dele(1)
p.quit()
print(json.dumps({"caps": sorted(caps), "count": count, "octets": octets, "list": [l.decode() for l in listing], "uidl": [u.decode() for u in uidl], "retr": [l.decode() for l in lines], "size": size}))
`;

async function poplib(h: Pop3Harness, mode: "plain" | "stls" | "pop3s" | "auth-plain") {
  const script = POPLIB_SESSION.replace("MODE", JSON.stringify(mode));
  const result = await python(script, mode === "pop3s" ? h.ports.pop3s : h.ports.pop3);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as { caps: string[]; count: number; octets: number; list: string[]; uidl: string[]; retr: string[]; size: number };
}

for (const mode of ["plain", "stls", "pop3s", "auth-plain"] as const) {
  test(`python poplib (${mode}): STAT, LIST, UIDL, RETR with a dot line, DELE + QUIT removes message 1`, async () => {
    await withHarness({ allowPlaintextAuth: mode === "plain" }, async (h) => {
      const out = await poplib(h, mode);
      assert.equal(out.count, 2);
      assert.equal(out.octets, FIRST.length + SECOND.length);
      assert.deepEqual(out.list, [`1 ${FIRST.length}`, `2 ${SECOND.length}`]);
      const { uidValidity } = await h.inbox(h.accounts.alice);
      assert.deepEqual(out.uidl, [`1 ${uidValidity}.1`, `2 ${uidValidity}.2`]);
      assert.deepEqual(out.retr, ["From: bob@example.org", "To: alice@example.org", "Subject: second", "", ".leading dot", "bye"]);
      assert.ok(out.caps.includes("PIPELINING") && out.caps.includes("RESP-CODES"));
      if (mode === "stls" || mode === "auth-plain") assert.ok(out.caps.includes("STLS") && !out.caps.includes("USER"), out.caps.join());
      assert.deepEqual(await remainingUids(h), [2]);
    });
  });
}

test("curl: pop3:// with STLS lists and retrieves; pop3s:// with -k retrieves; a wrong password fails", async () => {
  await withHarness({}, async (h) => {
    const user = ["-u", "alice@example.org:alice-pass", "-k", "-s", "-S", "--max-time", "15"];
    const listing = await run("curl", [...user, "--ssl-reqd", `pop3://127.0.0.1:${h.ports.pop3}/`]);
    assert.equal(listing.code, 0, listing.stderr);
    assert.equal(listing.stdout, `1 ${FIRST.length}\r\n2 ${SECOND.length}\r\n`);
    const first = await run("curl", [...user, "--ssl-reqd", `pop3://127.0.0.1:${h.ports.pop3}/1`]);
    assert.equal(first.stdout, FIRST);
    const second = await run("curl", [...user, `pop3s://127.0.0.1:${h.ports.pop3s}/2`]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, SECOND, "byte-exact, the stuffed dot removed by curl");
    const refused = await run("curl", ["-u", "alice@example.org:nope", "-k", "-s", `pop3s://127.0.0.1:${h.ports.pop3s}/`]);
    assert.notEqual(refused.code, 0);
    assert.deepEqual(await remainingUids(h), [1, 2], "curl only reads");
  });
});

async function fetchmail(h: Pop3Harness, dir: string, options: { keep: boolean; implicitTls: boolean }) {
  const out = join(dir, "mda.out");
  const rc = join(dir, "fetchmailrc");
  const port = options.implicitTls ? h.ports.pop3s : h.ports.pop3;
  await writeFile(
    rc,
    [
      "set no bouncemail",
      `poll 127.0.0.1 service ${port} protocol pop3 auth password uidl`,
      `  user "alice@example.org" there with password "alice-pass" is "${process.env.USER ?? "root"}" here`,
      `  ${options.implicitTls ? "ssl " : ""}no sslcertck`,
      `  mda "cat >> ${out}"`,
      `  ${options.keep ? "keep" : "nokeep fetchall"}`,
      "",
    ].join("\n"),
  );
  await chmod(rc, 0o600);
  const result = await run("fetchmail", ["-f", rc, "--idfile", join(dir, "fetchids"), "--pidfile", join(dir, "fetchmail.pid"), "--nosyslog", "-v"], undefined, 30_000);
  const text = await readFile(out, "utf8").catch(() => "");
  return { result, text };
}

test("fetchmail (Debian): --keep downloads and leaves mail, UIDL keeps a second run from downloading again; without keep it deletes", async () => {
  await withHarness({}, async (h) => {
    const dir = await mkdtemp(join(tmpdir(), "mailroom-fetchmail-"));
    try {
      const kept = await fetchmail(h, dir, { keep: true, implicitTls: false });
      assert.ok([0, 1].includes(kept.result.code ?? -1), kept.result.stderr + kept.result.stdout);
      assert.match(kept.text, /Subject: first[\s\S]*Hello Alice[\s\S]*Subject: second[\s\S]*\n\.leading dot\r?\nbye/);
      assert.match(kept.result.stderr + kept.result.stdout, /STLS/);
      assert.deepEqual(await remainingUids(h), [1, 2]);

      const again = await fetchmail(h, dir, { keep: true, implicitTls: true });
      assert.equal(again.result.code, 1, "exit 1: no new mail (UIDL recognised both messages)");
      assert.equal((again.text.match(/Subject: /g) ?? []).length, 2, "nothing appended");

      await h.deliver(h.accounts.alice, "Subject: third\r\n\r\nthree\r\n");
      const drained = await fetchmail(h, dir, { keep: false, implicitTls: true });
      assert.equal(drained.result.code, 0, drained.result.stderr + drained.result.stdout);
      assert.equal((drained.text.match(/Subject: third/g) ?? []).length, 1);
      assert.deepEqual(await remainingUids(h), [], "fetchmail deleted every message at QUIT");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
