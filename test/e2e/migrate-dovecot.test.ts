// `mailroom migrate` against a real Dovecot (Debian's dovecot-imapd and dovecot-pop3d, started by
// the test, test/harness/dovecot-server.ts), as an operator moving house would run it:
//   - IMAP: a mailbox of a few thousand messages in nested folders with odd names (UTF-8, "&",
//     spaces), Dovecot keywords, every system flag, distinct INTERNALDATEs and a few multi-MB
//     messages. The first run is killed (kill -9) part way; the re-run, through a running server,
//     completes with no duplicate; python's imaplib then reads every folder from both servers and
//     the message ids, flags, keywords, INTERNALDATEs, sizes and SHA-256 of the bytes agree.
//     Flags changed and messages added on Dovecot reach us on a third run, which copies only
//     those. A folder whose name is not valid modified UTF-7 is reported, not fatal. A wrong
//     password is a clear error. `mailroom export` through the running server writes the result.
//   - POP3 (pop3s:// and pop3:// with STLS): the maildrop into INBOX, killed part way and resumed
//     by UIDL, nothing twice.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chown, mkdir, readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import { ImapFlow } from "imapflow";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { startDovecot, type DovecotServer } from "../harness/dovecot-server.js";
import { listenerPort, mailroomBin, makeScratch, runMailroom, serveConfig, startServeProcess } from "../harness/mailroom-process.js";
import { runPython } from "../harness/python.js";

const OLD_PASSWORD = "old-password-1";
const NEW_PASSWORD = "a long password";

/** Folders on Dovecot as Maildir++ directories (modified UTF-7), with the name IMAP shows and the count. */
const FOLDERS: { dir: string; name: string; count: number }[] = [
  { dir: "", name: "INBOX", count: 900 },
  { dir: ".Sent", name: "Sent", count: 300 },
  { dir: ".Work", name: "Work", count: 200 },
  { dir: ".Work.&AMk-t&AOk- &- Co", name: "Work/Été & Co", count: 400 },
  { dir: ".Archive.2019.Q1 Reports", name: "Archive/2019/Q1 Reports", count: 350 },
  { dir: ".&ZeVnLIqe-", name: "日本語", count: 50 },
];
const TOTAL = FOLDERS.reduce((n, f) => n + f.count, 0);
const BIG = new Set([7, 333]);

function message(folder: string, i: number): Buffer {
  const big = BIG.has(i) ? `${"0123456789abcdef".repeat(4)}\n`.repeat(40_000) : "";
  return Buffer.from(
    `From: Old Friend <friend${i % 17}@example.net>\nTo: old@example.net\nSubject: ${folder} message ${i}\nMessage-ID: <${folder.replace(/\W/g, "_")}.${i}@example.net>\nDate: Mon, 1 Jan 2018 00:00:00 +0000\n\nBody of message ${i} in ${folder}.\nFrom here on, a line that an mbox would quote.\n${big}`,
  );
}

/** Maildir letters for message i: a spread of system flags and keywords (a = $Label1, b = project-x, P = $Forwarded). */
function letters(i: number): string {
  const set = [i % 2 === 0 ? "S" : "", i % 5 === 0 ? "F" : "", i % 7 === 0 ? "R" : "", i % 11 === 0 ? "D" : "", i % 13 === 0 ? "T" : "", i % 9 === 0 ? "P" : ""].join("");
  return set.split("").sort().join("") + (i % 3 === 0 ? "a" : "") + (i % 4 === 0 ? "b" : "");
}

async function fillMaildir(dovecot: DovecotServer, user: string): Promise<void> {
  const root = dovecot.maildir(user);
  for (const folder of FOLDERS) {
    const dir = join(root, folder.dir);
    for (const sub of ["cur", "new", "tmp"]) await mkdir(join(dir, sub), { recursive: true });
    await writeFile(join(dir, "dovecot-keywords"), "0 $Label1\n1 project-x\n");
    for (let i = 0; i < folder.count; i++) {
      const file = join(dir, "cur", `${1600000000 + i}.M${i}P1.oldhost:2,${letters(i)}`);
      await writeFile(file, message(folder.name, i));
      const date = new Date(Date.UTC(2019, 0, 1) + i * 3_600_000 + FOLDERS.indexOf(folder) * 60_000);
      await utimes(file, date, date);
    }
  }
  // A folder whose name is not valid modified UTF-7 (an unterminated shift).
  for (const sub of ["cur", "new", "tmp"]) await mkdir(join(root, ".Bad&Jjo", sub), { recursive: true });
  await writeFile(join(root, ".Bad&Jjo", "cur", "1600000000.M1P1.oldhost:2,S"), message("bad", 1));
  await writeFile(join(root, "subscriptions"), FOLDERS.filter((f) => f.dir).map((f) => f.name).join("\n") + "\n");
  await chownTree(root, dovecot.owner);
}

async function chownTree(path: string, owner: { uid: number; gid: number }): Promise<void> {
  await chown(path, owner.uid, owner.gid);
  for (const entry of await readdir(path, { withFileTypes: true })) {
    if (entry.isDirectory()) await chownTree(join(path, entry.name), owner);
    else await chown(join(path, entry.name), owner.uid, owner.gid);
  }
}

/** Every message of the folders as (message id, flags, INTERNALDATE, size, SHA-256), per folder, from any IMAP server. */
const DUMP = `
import imaplib, hashlib, json, sys, time, re
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
folders = json.loads(sys.argv[5])
m = imaplib.IMAP4(host, port)
m.login(user, password)
out = {}
def quote(name):
    return '"' + name.replace('\\\\', '\\\\\\\\').replace('"', '\\\\"') + '"'
def mutf7(name):
    res, buf = [], []
    def flush():
        if buf:
            import base64
            b = base64.b64encode(''.join(buf).encode('utf-16-be')).decode().rstrip('=').replace('/', ',')
            res.append('&' + b + '-')
            buf.clear()
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            res.append('&-' if ch == '&' else ch)
        else:
            buf.append(ch)
    flush()
    return ''.join(res)
for folder in folders:
    typ, data = m.select(quote(mutf7(folder)), readonly=True)
    if typ != 'OK':
        out[folder] = None
        continue
    count = int(data[0])
    rows = []
    if count > 0:
        typ, data = m.fetch('1:*', '(FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])')
        for part in data:
            if not isinstance(part, tuple):
                continue
            meta = part[0].decode()
            body = part[1]
            flags = sorted(f for f in re.search(r'FLAGS \\(([^)]*)\\)', meta).group(1).split() if f != '\\\\Recent')
            date = time.mktime(imaplib.Internaldate2tuple(part[0]))
            size = int(re.search(r'RFC822\\.SIZE (\\d+)', meta).group(1))
            mid = re.search(rb'^Message-ID: (.*?)\\r?$', body, re.M | re.I).group(1).decode()
            rows.append([mid, flags, date, size, hashlib.sha256(body).hexdigest()])
    rows.sort()
    out[folder] = rows
print(json.dumps(out))
`;

async function dump(port: number, user: string, password: string, folders: string[]): Promise<Record<string, [string, string[], number, number, string][] | null>> {
  return JSON.parse(await runPython(DUMP, ["127.0.0.1", String(port), user, password, JSON.stringify(folders)], 600_000)) as Record<string, [string, string[], number, number, string][] | null>;
}

/** Runs `mailroom migrate` as a child and kills it (SIGKILL) once the store holds `killAt` messages. */
async function migrateAndKill(env: NodeJS.ProcessEnv, dataDir: string, args: string[], password: string, killAt: number): Promise<number> {
  const child = spawn(process.execPath, [mailroomBin(), ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  child.stdin.end(`${password}\n`);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let seen = 0;
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`migrate finished before it could be interrupted (${seen} messages seen): ${output}`);
    try {
      const db = new Database(join(dataDir, "mailroom.sqlite"), { readonly: true, fileMustExist: true });
      try {
        seen = (db.prepare("SELECT count(*) AS n FROM messages").get() as { n: number }).n;
      } finally {
        db.close();
      }
    } catch {
      // Not created yet, or busy: look again.
    }
    if (seen >= killAt) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGKILL");
  await exited;
  return seen;
}

let dovecot: DovecotServer;

before(async () => {
  dovecot = await startDovecot({ old: OLD_PASSWORD, popuser: OLD_PASSWORD });
  await fillMaildir(dovecot, "old");
});

after(async () => {
  await dovecot?.stop();
});

test("migrate a Dovecot account over IMAPS: interrupted, resumed, then incremental with flag changes; export afterwards", async (t) => {
  const s = await makeScratch(serveConfig({ plaintextAuthOnLoopback: true, listeners: [{ protocol: "imap" }] }));
  try {
    const store = await openSqliteStore({ dataDir: s.dataDir });
    await store.addDomain("example.org");
    await store.close();
    assert.equal((await runMailroom(["user", "add", "alice@example.org"], { env: s.env, input: `${NEW_PASSWORD}\n` })).code, 0);
    const from = `imaps://old@127.0.0.1:${dovecot.ports.imaps}`;
    const args = ["migrate", "--account", "alice@example.org", "--from", from, "--insecure-tls"];

    // A wrong password: a clear error, nothing copied.
    const refused = await runMailroom(args, { env: s.env, input: "not-the-password\n", timeoutMs: 120_000 });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /login refused.*check the user and password/);
    // Without --insecure-tls the test certificate is not trusted.
    const untrusted = await runMailroom(args.slice(0, -1), { env: s.env, input: `${OLD_PASSWORD}\n`, timeoutMs: 120_000 });
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /cannot connect.*(certificate|self.signed)/i);

    // First run without a server (the command owns the store), killed part way.
    const seen = await migrateAndKill(s.env, s.dataDir, args, OLD_PASSWORD, 600);
    assert.ok(seen >= 600 && seen < TOTAL, `killed after ${seen} messages`);

    const server = await startServeProcess(s.env);
    try {
      const port = listenerPort(server.banner, "imap");
      const resumed = await runMailroom(args, { env: s.env, input: `${OLD_PASSWORD}\n`, timeoutMs: 600_000 });
      assert.equal(resumed.code, 0, resumed.stderr);
      for (const folder of FOLDERS) {
        assert.match(resumed.stdout, new RegExp(`^${folder.name.replace(/[/\\^$*+?.()|[\]{}]/g, "\\$&")} -> ${folder.name.replace(/[/\\^$*+?.()|[\]{}]/g, "\\$&")}: source ${folder.count}, here ${folder.count} \\(`, "mu"));
      }
      // Dovecot lists the bad name either raw (our decoder refuses it) or escaped as a literal "&"
      // (then it cannot be opened under that name): either way it is reported and the rest goes on.
      assert.match(resumed.stdout, /^folder Bad&(-)?Jjo.*: (skipped, the name "Bad&Jjo" is not valid modified UTF-7|cannot be opened on the source \(.+\): skipped)/m);
      assert.match(resumed.stdout, /^migrate from imaps:\/\/old@127\.0\.0\.1:\d+ into alice@example\.org: done/m);
      t.diagnostic(`resumed run: ${resumed.stdout.split("\n").find((line) => line.startsWith("migrate from"))}`);

      const names = FOLDERS.map((f) => f.name);
      const theirs = await dump(dovecot.ports.imap, "old", OLD_PASSWORD, names);
      let ours = await dump(port, "alice@example.org", NEW_PASSWORD, names);
      for (const name of names) {
        assert.equal(ours[name]!.length, theirs[name]!.length, `${name}: same count`);
        assert.equal(new Set(ours[name]!.map((r) => r[0])).size, ours[name]!.length, `${name}: no duplicate`);
        assert.deepEqual(ours[name], theirs[name], `${name}: ids, flags, keywords, dates, sizes and bytes agree`);
      }
      assert.ok(theirs["INBOX"]!.some((r) => r[1].includes("project-x") && r[1].includes("$Label1") && r[1].includes("\\Deleted")), "the fixture has keywords and every flag");
      assert.ok(theirs["INBOX"]!.some((r) => r[3] > 2_000_000), "and multi-MB messages");

      // Changes on Dovecot: flags set and cleared, a keyword added, two new messages.
      const client = new ImapFlow({ host: "127.0.0.1", port: dovecot.ports.imap, secure: false, tls: { rejectUnauthorized: false }, auth: { user: "old", pass: OLD_PASSWORD }, logger: false });
      await client.connect();
      await client.mailboxOpen("Work/Été & Co");
      await client.messageFlagsAdd("1:10", ["\\Flagged", "$Important"]);
      await client.messageFlagsRemove("1:10", ["\\Seen"]);
      await client.append("Work/Été & Co", message("new", 1), ["\\Seen"], new Date("2024-06-01T12:00:00Z"));
      await client.append("INBOX", message("new", 2), [], new Date("2024-06-02T12:00:00Z"));
      await client.logout();

      const third = await runMailroom(args, { env: s.env, input: `${OLD_PASSWORD}\n`, timeoutMs: 600_000 });
      assert.equal(third.code, 0, third.stderr);
      assert.match(third.stdout, /^Work\/Été & Co -> Work\/Été & Co: source 401, here 401 \(1 copied, 0 already here, 0 skipped, 10 flag change\(s\) synced\)/mu);
      assert.match(third.stdout, /^INBOX -> INBOX: source 901, here 901 \(1 copied, 0 already here, 0 skipped, 0 flag change\(s\) synced\)/m);
      const after = await dump(dovecot.ports.imap, "old", OLD_PASSWORD, ["INBOX", "Work/Été & Co"]);
      ours = await dump(port, "alice@example.org", NEW_PASSWORD, ["INBOX", "Work/Été & Co"]);
      assert.deepEqual(ours, after, "flag changes and new messages synced");

      // Export through the running server: every folder, mbox and Maildir. The server writes the
      // files as its own user (it dropped root), so the directories are that user's.
      const serverUser = await stat(s.dataDir);
      for (const dir of ["export-maildir", "export-mbox"]) {
        await mkdir(join(s.dir, dir));
        await chown(join(s.dir, dir), serverUser.uid, serverUser.gid);
      }
      const exported = await runMailroom(["export", "--account", "alice@example.org", "--format", "maildir", join(s.dir, "export-maildir")], { env: s.env, timeoutMs: 300_000 });
      assert.equal(exported.code, 0, exported.stderr);
      assert.match(exported.stdout, /^Work\/Été & Co: 401 message\(s\) -> \.Work\.&AMk-t&AOk- &- Co$/mu);
      assert.equal((await readdir(join(s.dir, "export-maildir", ".Work.&AMk-t&AOk- &- Co", "cur"))).length, 401);
      const mboxExport = await runMailroom(["export", "--account", "alice@example.org", "--format", "mbox", "--mailbox", "Archive/2019/Q1 Reports", join(s.dir, "export-mbox")], { env: s.env, timeoutMs: 300_000 });
      assert.equal(mboxExport.code, 0, mboxExport.stderr);
      const mbox = await readFile(join(s.dir, "export-mbox", "Archive", "2019", "Q1 Reports.mbox"), "latin1");
      assert.equal(mbox.match(/^From MAILER-DAEMON /gm)!.length, 350);
      assert.equal(mbox.match(/^>From here on/gm)!.length, 350, "mboxrd quoting");
      const again = await runMailroom(["export", "--account", "alice@example.org", "--format", "mbox", join(s.dir, "export-mbox")], { env: s.env });
      assert.equal(again.code, 1);
      assert.match(again.stderr, /not empty/);
    } finally {
      await server.stop();
    }
  } finally {
    await s.cleanup();
  }
});

test("a server stop ends a migrate running inside it at the next page, recorded; the same command resumes", async () => {
  const s = await makeScratch(serveConfig({ plaintextAuthOnLoopback: true, listeners: [{ protocol: "imap" }] }));
  try {
    const store = await openSqliteStore({ dataDir: s.dataDir });
    await store.addDomain("example.org");
    await store.close();
    assert.equal((await runMailroom(["user", "add", "carol@example.org"], { env: s.env, input: `${NEW_PASSWORD}\n` })).code, 0);
    const args = ["migrate", "--account", "carol@example.org", "--from", `imaps://old@127.0.0.1:${dovecot.ports.imaps}`, "--insecure-tls"];
    let server = await startServeProcess(s.env);
    const child = spawn(process.execPath, [mailroomBin(), ...args], { env: s.env, stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.stdin.end(`${OLD_PASSWORD}\n`);
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    let seen = 0;
    const deadline = Date.now() + 300_000;
    while (seen < 300 && Date.now() < deadline && child.exitCode === null) {
      try {
        const db = new Database(join(s.dataDir, "mailroom.sqlite"), { readonly: true, fileMustExist: true });
        try {
          seen = (db.prepare("SELECT count(*) AS n FROM messages").get() as { n: number }).n;
        } finally {
          db.close();
        }
      } catch {
        // Busy: look again.
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(child.exitCode, null, `migrate was still running at ${seen} messages: ${output}`);
    // The stop does not wait for the rest of the migration: the command is told it was interrupted.
    await server.stop();
    assert.equal(await exited, 1, output);
    assert.match(output, /interrupted after \d+ message\(s\): the server is stopping; what was copied is kept: run the same command again/);
    assert.doesNotMatch(output, /: done,/);

    server = await startServeProcess(s.env);
    try {
      const resumed = await runMailroom(args, { env: s.env, input: `${OLD_PASSWORD}\n`, timeoutMs: 600_000 });
      assert.equal(resumed.code, 0, resumed.stderr);
      // The source is shared with the tests before this one, which may have added to a folder
      // (the incremental run adds messages): complete means as many here as there.
      for (const folder of FOLDERS) {
        const line = new RegExp(`^${folder.name.replace(/[/\\^$*+?.()|[\]{}]/g, "\\$&")} -> .*: source (\\d+), here (\\d+) \\(`, "mu").exec(resumed.stdout);
        assert.ok(line, `${folder.name} reported: ${resumed.stdout}`);
        assert.ok(Number(line[1]) >= folder.count, `${folder.name}: the source has at least its ${folder.count} messages`);
        assert.equal(line[2], line[1], `${folder.name} complete, nothing twice`);
      }
    } finally {
      await server.stop();
    }
  } finally {
    await s.cleanup();
  }
});

test("migrate a POP3 maildrop (pop3s://, then pop3:// with STLS): interrupted and resumed by UIDL, nothing twice", async () => {
  const root = dovecot.maildir("popuser");
  for (const sub of ["cur", "new", "tmp"]) await mkdir(join(root, sub), { recursive: true });
  const count = 400;
  for (let i = 0; i < count; i++) {
    const text = message("pop", i).toString().replace("Date: Mon, 1 Jan 2018", `Received: from mx.example.net by old.example.net; Tue, 2 Jan 2018 03:04:${String(i % 60).padStart(2, "0")} +0000\nDate: Mon, 1 Jan 2018`);
    await writeFile(join(root, "new", `${1600000000 + i}.M${i}P2.oldhost`), text);
  }
  await chownTree(root, dovecot.owner);
  const s = await makeScratch(serveConfig({ plaintextAuthOnLoopback: true, listeners: [{ protocol: "imap" }] }));
  try {
    const store = await openSqliteStore({ dataDir: s.dataDir });
    await store.addDomain("example.org");
    await store.close();
    assert.equal((await runMailroom(["user", "add", "bob@example.org"], { env: s.env, input: `${NEW_PASSWORD}\n` })).code, 0);
    const args = ["migrate", "--account", "bob@example.org", "--from", `pop3s://popuser@127.0.0.1:${dovecot.ports.pop3s}`, "--insecure-tls"];
    const seen = await migrateAndKill(s.env, s.dataDir, args, OLD_PASSWORD, 100);
    assert.ok(seen >= 100 && seen < count, `killed after ${seen}`);
    const passwordFile = join(s.dir, "pop-password");
    await writeFile(passwordFile, `${OLD_PASSWORD}\n`);
    const server = await startServeProcess(s.env);
    try {
      const resumed = await runMailroom(["migrate", "--account", "bob@example.org", "--from", `pop3://popuser@127.0.0.1:${dovecot.ports.pop3}`, "--insecure-tls", "--password-file", passwordFile], { env: s.env, timeoutMs: 300_000 });
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stdout, new RegExp(`^INBOX -> INBOX: source ${count}, here ${count} \\(`, "m"));
      const again = await runMailroom(["migrate", "--account", "bob@example.org", "--from", `pop3s://popuser@127.0.0.1:${dovecot.ports.pop3s}`, "--insecure-tls", "--password-file", passwordFile], { env: s.env, timeoutMs: 300_000 });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, new RegExp(`^INBOX -> INBOX: source ${count}, here ${count} \\(0 copied`, "m"));
      const ours = await dump(listenerPort(server.banner, "imap"), "bob@example.org", NEW_PASSWORD, ["INBOX"]);
      assert.equal(ours["INBOX"]!.length, count);
      assert.equal(new Set(ours["INBOX"]!.map((r) => r[0])).size, count, "no duplicate");
      const date = ours["INBOX"]!.find((r) => r[0] === "<pop.5@example.net>")![2];
      assert.equal(date, Date.UTC(2018, 0, 2, 3, 4, 5) / 1000, "INTERNALDATE from the Received field");
      const wrong = await runMailroom(["migrate", "--account", "bob@example.org", "--from", `pop3s://popuser@127.0.0.1:${dovecot.ports.pop3s}`, "--insecure-tls"], { env: s.env, input: "wrong\n", timeoutMs: 120_000 });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /login refused/);
    } finally {
      await server.stop();
    }
  } finally {
    await s.cleanup();
  }
});
