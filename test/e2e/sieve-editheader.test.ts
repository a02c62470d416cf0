// Sieve editheader (RFC 5293) end to end: the ManageSieve greeting advertises "editheader",
// Debian's sieve-connect uploads and activates a script that files a copy, then edits the header;
// python's smtplib delivers over port 25 and python's imaplib reads both copies back: the INBOX
// copy (the implicit keep, RFC 5293 §7) carries the added fields and lacks the deleted one, the
// copy filed before the edit is the message as received, and the body is the same in both.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createAdmin } from "../../src/server/compose.js";
import { makeCertificate } from "../harness/certificates.js";
import { startFullServer } from "../harness/full-server.js";

const PASSWORD = "correct horse battery";

function runPython(source: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("python3", ["-c", source, ...args], { timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)));
  });
}

function sieveConnect(port: number, caFile: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      "sieve-connect",
      ["--server", "127.0.0.1", "--port", String(port), "--user", "alice@example.org", "--passwordfd", "3", "--tlscafile", caFile, "--tlshostname", "mx.example.org", "--noclearauth", ...args],
      { stdio: ["ignore", "pipe", "pipe", "pipe"] },
    );
    const passwordPipe = child.stdio[3] as NodeJS.WritableStream;
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

const LONG = Array.from({ length: 30 }, (_, i) => `part${i}`).join(" ");

const SCRIPT = `require ["editheader", "fileinto", "mailbox", "copy"];
if header :contains "subject" "[edit]" {
  fileinto :copy :create "Archive";
  addheader "X-Filtered" "geprüft ✓";
  addheader :last "X-Long" "${LONG}";
  deleteheader "X-Junk-Mark";
  deleteheader "Received";
}
`;

const SEND_AND_FETCH = `
import imaplib, json, smtplib, ssl, sys
smtp_port, imap_port = int(sys.argv[1]), int(sys.argv[2])
body = "line one\\r\\nline two\\r\\n"
with smtplib.SMTP("127.0.0.1", smtp_port) as s:
    s.sendmail("carol@example.net", ["alice@example.org"], "From: carol@example.net\\r\\nTo: alice@example.org\\r\\nSubject: [edit] please\\r\\nX-Junk-Mark: maybe\\r\\n\\r\\n" + body)
    s.sendmail("carol@example.net", ["alice@example.org"], "From: carol@example.net\\r\\nTo: alice@example.org\\r\\nSubject: untouched\\r\\nX-Junk-Mark: keep me\\r\\n\\r\\n" + body)
m = imaplib.IMAP4("127.0.0.1", imap_port)
m.starttls(ssl_context=ssl._create_unverified_context())
m.login("alice@example.org", sys.argv[3])
out = {}
for box in ["INBOX", "Archive"]:
    typ, data = m.select(box, readonly=True)
    items = []
    if typ == "OK" and int(data[0]) > 0:
        typ, data = m.fetch("1:*", "(BODY.PEEK[])")
        for part in data:
            if isinstance(part, tuple):
                items.append(part[1].decode("latin-1"))
    out[box] = items if typ == "OK" else None
print(json.dumps(out))
`;

/** Header fields of a message as [lower-case name, unfolded value]. */
function fields(message: string): [string, string][] {
  const header = message.slice(0, message.indexOf("\r\n\r\n"));
  return header
    .replace(/\r\n(?=[ \t])/g, "")
    .split("\r\n")
    .map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]);
}

test("editheader over ManageSieve, SMTP and IMAP: the INBOX copy is edited, the copy filed before the edit is not", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-editheader-"));
  const now = Date.now();
  const cert = await makeCertificate(dir, "server", { hostname: "mx.example.org", notBefore: new Date(now - 86_400_000), notAfter: new Date(now + 30 * 86_400_000) });
  const full = await startFullServer({
    protocols: ["smtp", "imap", "managesieve"],
    extraToml: `[tls]\ncert_file = ${JSON.stringify(cert.certFile)}\nkey_file = ${JSON.stringify(cert.keyFile)}\n`,
  });
  try {
    const admin = createAdmin(full.server.config, full.server.store);
    await admin.addDomain("example.org");
    await admin.addUser({ address: "alice@example.org", password: PASSWORD });
    const port = full.portOf("managesieve");

    // RFC 5804 §1.7: the greeting lists the extensions; editheader is among them now.
    const socket = connect(port, "127.0.0.1");
    let greeting = "";
    socket.on("data", (d: Buffer) => (greeting += d.toString()));
    while (!/^OK/m.test(greeting)) await once(socket, "data");
    socket.end('LOGOUT\r\n');
    const sieveLine = greeting.split("\r\n").find((l) => l.startsWith('"SIEVE"')) ?? "";
    assert.match(sieveLine, /\beditheader\b/, greeting);

    const local = join(dir, "edit.sieve");
    await writeFile(local, SCRIPT);
    const upload = await sieveConnect(port, cert.certFile, ["--localsieve", local, "--remotesieve", "edit", "--upload"]);
    assert.equal(upload.code, 0, upload.output);
    const activate = await sieveConnect(port, cert.certFile, ["--remotesieve", "edit", "--activate"]);
    assert.equal(activate.code, 0, activate.output);
    // An invalid field name is refused at upload with its line (RFC 5293 §4).
    const bad = join(dir, "bad.sieve");
    await writeFile(bad, 'require "editheader";\naddheader "X Bad" "v";\n');
    const refused = await sieveConnect(port, cert.certFile, ["--localsieve", bad, "--remotesieve", "bad", "--upload"]);
    assert.notEqual(refused.code, 0, refused.output);
    assert.match(refused.output, /line 2:1/);

    const boxes = JSON.parse(await runPython(SEND_AND_FETCH, [String(full.portOf("smtp")), String(full.portOf("imap")), PASSWORD])) as Record<string, string[] | null>;
    assert.equal(boxes["Archive"]?.length, 1);
    assert.equal(boxes["INBOX"]?.length, 2);
    const archived = boxes["Archive"]![0]!;
    const [edited, untouched] = boxes["INBOX"]!;

    // The copy filed before the edit: as received (with the trace fields delivery adds).
    const archivedFields = fields(archived);
    assert.ok(archivedFields.some(([n, v]) => n === "x-junk-mark" && v === "maybe"), archived);
    assert.ok(!archivedFields.some(([n]) => n === "x-filtered" || n === "x-long"), archived);

    // The INBOX copy: added fields (encoded, folded), the deleted one gone, Received protected.
    const editedFields = fields(edited!);
    assert.ok(!editedFields.some(([n]) => n === "x-junk-mark"), edited);
    assert.ok(editedFields.some(([n]) => n === "received"), "Received cannot be deleted (RFC 5293 §6)");
    const filtered = editedFields.find(([n]) => n === "x-filtered");
    assert.equal(filtered?.[1], "=?utf-8?q?gepr=C3=BCft_=E2=9C=93?=");
    assert.equal(editedFields.find(([n]) => n === "x-long")?.[1], LONG);
    const header = edited!.slice(0, edited!.indexOf("\r\n\r\n"));
    assert.ok(header.split("\r\n").every((line) => line.length <= 78), header);
    assert.ok(/^[\x00-\x7f]*$/.test(header), "the added fields are 7-bit");
    // Added at the top of the message's own header (after the trace fields delivery prepends), :last at its end.
    const names = editedFields.map(([n]) => n);
    assert.ok(names.indexOf("x-filtered") < names.indexOf("from") && names.indexOf("x-long") === names.length - 1, names.join(","));

    // Bodies unchanged; the message the script did not edit is stored as received.
    for (const message of [archived, edited!, untouched!]) assert.ok(message.endsWith("\r\n\r\nline one\r\nline two\r\n"), message);
    assert.ok(fields(untouched!).some(([n, v]) => n === "x-junk-mark" && v === "keep me"));
    assert.ok(!fields(untouched!).some(([n]) => n === "x-filtered"));
  } finally {
    await full.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
