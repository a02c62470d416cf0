// ManageSieve (RFC 5804) end to end: Debian's sieve-connect uploads and activates a script over
// STARTTLS, verifying the server's certificate against a test CA; a message delivered over SMTP
// by python's smtplib then lands in the folder the script chose, with its flags, as python's
// imaplib sees it. Raw sockets send what no client would: a huge literal, bad syntax, too many
// scripts, a password before TLS.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createAdmin } from "../../src/server/compose.js";
import { makeCertificate } from "../harness/certificates.js";
import { startFullServer, type FullServer } from "../harness/full-server.js";

const PASSWORD = "correct horse battery";

function runPython(source: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("python3", ["-c", source, ...args], { timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)));
  });
}

/** sieve-connect with the password on fd 3 and the test CA as the only trust anchor. */
function sieveConnect(port: number, caFile: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      "sieve-connect",
      ["--server", "127.0.0.1", "--port", String(port), "--user", "alice@example.org", "--passwordfd", "3", "--tlscafile", caFile, "--tlshostname", "mx.example.org", "--noclearauth", ...args],
      { stdio: ["ignore", "pipe", "pipe", "pipe"] },
    );
    const passwordPipe = child.stdio[3] as NodeJS.WritableStream;
    // A client that gives up before reading the password (an untrusted certificate) closes the pipe.
    passwordPipe.on("error", () => undefined);
    passwordPipe.end(`${PASSWORD}\n`);
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill(), 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

// The active script includes a second uploaded script (RFC 6609), resolved from the store at delivery.
const SCRIPT = `require ["fileinto", "mailbox", "include"];
# uploaded with sieve-connect
if header :contains "subject" "[team]" {
  include "teamflags";
  fileinto :create "Team";
  stop;
}
`;
const TEAMFLAGS = `require "imap4flags";\naddflag ["\\\\Flagged", "teamwork"];\n`;

const SEND_AND_LIST = `
import imaplib, json, smtplib, ssl, sys
smtp_port, imap_port = int(sys.argv[1]), int(sys.argv[2])
with smtplib.SMTP("127.0.0.1", smtp_port) as s:
    s.sendmail("carol@example.net", ["alice@example.org"], "From: carol@example.net\\r\\nTo: alice@example.org\\r\\nSubject: [team] standup notes\\r\\n\\r\\nhello\\r\\n")
    s.sendmail("carol@example.net", ["alice@example.org"], "From: carol@example.net\\r\\nTo: alice@example.org\\r\\nSubject: lunch\\r\\n\\r\\nhello\\r\\n")
m = imaplib.IMAP4("127.0.0.1", imap_port)
m.starttls(ssl_context=ssl._create_unverified_context())
m.login("alice@example.org", sys.argv[3])
out = {}
for box in ["INBOX", "Team"]:
    typ, data = m.select(box, readonly=True)
    if typ != "OK":
        out[box] = None
        continue
    items = []
    if int(data[0]) > 0:
        typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        for part in data:
            if isinstance(part, tuple):
                meta = part[0].decode()
                flags = meta[meta.index("FLAGS (") + 7: meta.index(")", meta.index("FLAGS ("))].split()
                items.append([part[1].decode().strip(), sorted(f for f in flags if f != "\\\\Recent")])
    out[box] = items
print(json.dumps(out))
`;

async function withServer(extraToml: string, tlsToml: string, run: (full: FullServer, dir: string, caFile: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-managesieve-"));
  const now = Date.now();
  // A self-signed certificate for mx.example.org is its own CA: sieve-connect trusts only it.
  const cert = await makeCertificate(dir, "server", { hostname: "mx.example.org", notBefore: new Date(now - 86_400_000), notAfter: new Date(now + 30 * 86_400_000) });
  const full = await startFullServer({
    protocols: ["smtp", "imap", "managesieve"],
    extraToml: `[tls]\ncert_file = ${JSON.stringify(cert.certFile)}\nkey_file = ${JSON.stringify(cert.keyFile)}\n${tlsToml}${extraToml}`,
  });
  try {
    const admin = createAdmin(full.server.config, full.server.store);
    await admin.addDomain("example.org");
    await admin.addUser({ address: "alice@example.org", password: PASSWORD });
    await run(full, dir, cert.certFile);
  } finally {
    await full.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

test("sieve-connect uploads and activates a script over STARTTLS; SMTP delivery follows it, seen over IMAP", async () => {
  await withServer("", "", async (full, dir, caFile) => {
    const port = full.portOf("managesieve");
    const local = join(dir, "team.sieve");
    await writeFile(local, SCRIPT);
    await writeFile(join(dir, "teamflags.sieve"), TEAMFLAGS);
    const uploadFlags = await sieveConnect(port, caFile, ["--localsieve", join(dir, "teamflags.sieve"), "--remotesieve", "teamflags", "--upload"]);
    assert.equal(uploadFlags.code, 0, uploadFlags.output);
    const upload = await sieveConnect(port, caFile, ["--localsieve", local, "--remotesieve", "team", "--upload"]);
    assert.equal(upload.code, 0, upload.output);
    const activate = await sieveConnect(port, caFile, ["--remotesieve", "team", "--activate"]);
    assert.equal(activate.code, 0, activate.output);
    const list = await sieveConnect(port, caFile, ["--list"]);
    assert.equal(list.code, 0, list.output);
    assert.match(list.output, /"team" ACTIVE/);

    // A script with an error is refused with its line number, and nothing is stored.
    const broken = join(dir, "broken.sieve");
    await writeFile(broken, 'require "fileinto";\n\nfileinto "x"\n');
    const refused = await sieveConnect(port, caFile, ["--localsieve", broken, "--remotesieve", "broken", "--upload"]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.output, /line 4:1/);
    const alice = await full.server.store.accounts.findAccountByAddress("alice@example.org");
    assert.equal(await full.server.store.sieve!.getSieveScript(alice!.id, "broken"), null);

    // A certificate the client does not trust stops it before any password is sent.
    const otherCa = await makeCertificate(dir, "other", { hostname: "mx.example.org", notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000) });
    const untrusted = await sieveConnect(port, otherCa.certFile, ["--list"]);
    assert.notEqual(untrusted.code, 0, untrusted.output);

    const boxes = JSON.parse(await runPython(SEND_AND_LIST, [String(full.portOf("smtp")), String(full.portOf("imap")), PASSWORD])) as Record<string, [string, string[]][] | null>;
    assert.deepEqual(boxes["Team"], [["Subject: [team] standup notes", ["\\Flagged", "teamwork"]]]);
    assert.deepEqual(boxes["INBOX"], [["Subject: lunch", []]]);
  });
});

/** A raw client: send bytes, read until a pattern (or the close). */
class Raw {
  text = "";
  ended = false;
  private constructor(readonly socket: Socket) {
    socket.on("data", (d: Buffer) => (this.text += d.toString("latin1")));
    socket.on("close", () => (this.ended = true));
    socket.on("error", () => undefined);
  }
  static async open(port: number): Promise<Raw> {
    const socket = connect({ host: "127.0.0.1", port });
    await once(socket, "connect");
    const raw = new Raw(socket);
    await raw.until(/^OK .*\r\n/m);
    return raw;
  }
  async until(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.text)) {
      if (this.ended) throw new Error(`closed waiting for ${pattern}: ${JSON.stringify(this.text.slice(-300))}`);
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${pattern}: ${JSON.stringify(this.text.slice(-300))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const out = this.text;
    this.text = "";
    return out;
  }
  send(text: string | Buffer): void {
    this.socket.write(text);
  }
}

test("hostile input over a raw socket: huge literal, bad syntax, too many scripts, plaintext password", async () => {
  await withServer("", "", async (full) => {
    const port = full.portOf("managesieve");
    // Before TLS a password is refused, and no mechanism is advertised.
    const plain = await Raw.open(port);
    plain.send(`AUTHENTICATE "PLAIN" "${Buffer.from(`\0alice@example.org\0${PASSWORD}`).toString("base64")}"\r\n`);
    assert.match(await plain.until(/\r\n$/), /^NO \(ENCRYPT-NEEDED\)/);
    plain.send("CAPABILITY\r\n");
    // No PLAIN or LOGIN before TLS; SCRAM (no password on the wire) is offered, without -PLUS (no TLS to bind to).
    assert.match(await plain.until(/^OK .*\r\n/m), /"SASL" "SCRAM-SHA-256 SCRAM-SHA-1"\r\n/);
    plain.socket.destroy();
  });
  // Plaintext AUTH allowed on loopback, so the raw client can log in without TLS.
  await withServer("[managesieve]\nmax_literal_bytes = \"64K\"\nmax_errors = 50\n[sieve]\nmax_scripts = 3\n", "allow_plaintext_auth_on_loopback = true\n", async (full) => {
    const port = full.portOf("managesieve");
    const raw = await Raw.open(port);
    raw.send(`AUTHENTICATE "PLAIN" "${Buffer.from(`\0alice@example.org\0${PASSWORD}`).toString("base64")}"\r\n`);
    assert.match(await raw.until(/\r\n$/), /^OK "Logged in"/);

    // A literal announcing 1 GiB: read past as it comes, never buffered; refused with QUOTA/MAXSIZE.
    const before = process.memoryUsage().rss;
    raw.send(`PUTSCRIPT "huge" {1073741824+}\r\n`);
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 64; i++) if (!raw.socket.write(chunk)) await once(raw.socket, "drain");
    raw.send("NOOP\r\n");
    // The server is still reading the literal: the NOOP is part of it, nothing is answered yet.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(raw.text, "");
    assert.ok(process.memoryUsage().rss - before < 48 * 1024 * 1024, "the literal was not buffered");
    raw.socket.destroy();

    const next = await Raw.open(port);
    next.send(`AUTHENTICATE "PLAIN" "${Buffer.from(`\0alice@example.org\0${PASSWORD}`).toString("base64")}"\r\n`);
    await next.until(/^OK/m);
    next.send(`PUTSCRIPT "big" {70000+}\r\n${"#".repeat(69_999)}\n\r\nNOOP\r\n`);
    assert.match(await next.until(/^OK "Done"\r\n/m), /^NO \(QUOTA\/MAXSIZE\) "literal of 70000 octets is larger than the limit of 65536"\r\n/);

    // Bad syntax: a clear NO each, and the session goes on.
    next.send('PUTSCRIPT "a\r\nNOOP {x}\r\nFROB\r\nPUTSCRIPT "x"\r\nGETSCRIPT "a" "b"\r\nNOOP\r\n');
    const bad = await next.until(/^OK "Done"\r\n/m);
    assert.equal((bad.match(/^NO /gm) ?? []).length, 5, bad);

    // Too many scripts: QUOTA/MAXSCRIPTS, HAVESPACE says so first.
    for (const name of ["one", "two", "three"]) {
      next.send(`PUTSCRIPT "${name}" "keep;"\r\n`);
      assert.match(await next.until(/\r\n$/), /^OK/);
    }
    next.send('HAVESPACE "four" 10\r\nPUTSCRIPT "four" "keep;"\r\nPUTSCRIPT "three" "discard;"\r\n');
    assert.match(await next.until(/^OK.*\r\n/m), /^NO \(QUOTA\/MAXSCRIPTS\).*\r\nNO \(QUOTA\/MAXSCRIPTS\).*\r\nOK/);

    // A script the compiler refuses, deeply nested: a NO with the position, no crash.
    const deep = `${"if true {".repeat(100)}keep;${"}".repeat(100)}`;
    next.send(`CHECKSCRIPT {${deep.length}+}\r\n${deep}\r\n`);
    assert.match(await next.until(/\r\n$/), /^NO "line 1:\d+: nesting deeper than 32 levels"/);
    next.send("LOGOUT\r\n");
    assert.match(await next.until(/\r\n$/), /^OK "Logout completed"/);
  });
});
