// SCRAM-SHA-1/-256 and their -PLUS forms (RFC 5802, 7677; channel binding RFC 9266 tls-exporter
// and RFC 5929 tls-server-end-point) end to end, over real sockets on every protocol that speaks
// SASL: IMAP AUTHENTICATE, SMTP submission AUTH, POP3 AUTH and ManageSieve AUTHENTICATE.
// Three clients: the harness's own (test/harness/scram-client.ts, written apart from the server's
// code) for every protocol and every way of breaking the exchange, and GNU SASL's `gsasl` CLI
// (Debian package gsasl: a real client with its own SCRAM and TLS stack) against IMAP and SMTP,
// and python3's imaplib with a SCRAM callback written on hashlib (a third implementation).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { TLSSocket } from "node:tls";
import { hashPassword } from "../../src/auth/index.js";
import { createAdmin } from "../../src/server/compose.js";
import { makeCertificate } from "../harness/certificates.js";
import { openTls, startFullServer, type FullServer } from "../harness/full-server.js";
import { b64, ScramClient, unb64, type ScramClientOptions } from "../harness/scram-client.js";

const USER = "alice@example.org";
const PASSWORD = "correct horse battery";

/** Lines from a socket, one at a time. */
class Lines {
  private buffer = "";
  private waiting: (() => void) | null = null;
  constructor(readonly socket: TLSSocket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer += chunk.toString("latin1");
      this.waiting?.();
    });
    socket.on("close", () => this.waiting?.());
  }
  async line(): Promise<string> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const end = this.buffer.indexOf("\r\n");
      if (end >= 0) {
        const line = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        return line;
      }
      if (this.socket.destroyed || Date.now() > deadline) throw new Error(`connection ended; buffered ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
        setTimeout(resolve, 1000);
      });
      this.waiting = null;
    }
  }
  /** Reads lines until one matches. */
  async until(pattern: RegExp): Promise<string> {
    for (;;) {
      const line = await this.line();
      if (pattern.test(line)) return line;
    }
  }
  send(text: string): void {
    this.socket.write(`${text}\r\n`);
  }
}

/** The binding data the client computes from its own side of the TLS connection. */
function clientBinding(socket: TLSSocket, name: "tls-exporter" | "tls-server-end-point"): Buffer {
  if (name === "tls-exporter") return socket.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0));
  // The test certificate is signed with SHA-256 (RFC 5929 §4.1: that hash).
  return createHash("sha256").update(socket.getPeerCertificate().raw).digest();
}

type Outcome = { ok: boolean; final: string };

// After STARTTLS (openTls) an IMAP server sends no second greeting: the first line read is an answer.

/** One IMAP AUTHENTICATE with the harness client; `tamper` may change the client-final message. */
async function imapScram(lines: Lines, mechanism: string, options: ScramClientOptions, tamper: (final: string) => string = (f) => f): Promise<Outcome> {
  const client = new ScramClient(options);
  lines.send(`a AUTHENTICATE ${mechanism} ${b64(client.first())}`);
  const first = await lines.line();
  if (!first.startsWith("+ ")) return { ok: false, final: first };
  lines.send(b64(tamper(client.final(unb64(first.slice(2))))));
  const second = await lines.line();
  if (!second.startsWith("+ ")) return { ok: false, final: second };
  assert.ok(client.verifyServerFinal(unb64(second.slice(2))), "server-final proves the server holds the keys");
  lines.send("");
  const done = await lines.until(/^a /);
  return { ok: done.startsWith("a OK"), final: done };
}

async function imapConnection(full: FullServer): Promise<Lines> {
  const socket = await openTls("imap", "127.0.0.1", full.portOf("imap"));
  return new Lines(socket);
}

function run(command: string, args: string[], input = ""): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: 60_000 }, (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }));
    child.stdin?.end(input);
  });
}

describe("SCRAM end to end", () => {
  let full: FullServer;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "mailroom-scram-"));
    const now = Date.now();
    const cert = await makeCertificate(dir, "server", { hostname: "mx.example.org", notBefore: new Date(now - 86_400_000), notAfter: new Date(now + 30 * 86_400_000) });
    full = await startFullServer({
      protocols: ["submission", "imap", "pop3", "managesieve"],
      extraToml: `[tls]\ncert_file = ${JSON.stringify(cert.certFile)}\nkey_file = ${JSON.stringify(cert.keyFile)}\n`,
    });
    const admin = createAdmin(full.server.config, full.server.store);
    await admin.addDomain("example.org");
    await admin.addUser({ address: USER, password: PASSWORD });
  });

  after(async () => {
    await full?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("IMAP advertises SCRAM without TLS and -PLUS only under TLS", async () => {
    const { connect } = await import("node:net");
    const plain = connect({ host: "127.0.0.1", port: full.portOf("imap") });
    let text = "";
    plain.on("data", (d: Buffer) => (text += d.toString()));
    await new Promise((resolve) => plain.once("data", resolve));
    plain.write("c CAPABILITY\r\n");
    while (!/c OK/.test(text)) await new Promise((resolve) => plain.once("data", resolve));
    plain.destroy();
    assert.match(text, /AUTH=SCRAM-SHA-256 /);
    assert.doesNotMatch(text, /-PLUS/);
    assert.match(text, /LOGINDISABLED/);

    const lines = await imapConnection(full);
    lines.send("c CAPABILITY");
    const capability = await lines.until(/^\* CAPABILITY/);
    for (const name of ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "PLAIN"]) assert.ok(capability.includes(`AUTH=${name}`), name);
    lines.socket.destroy();
  });

  it("IMAP: SCRAM-SHA-256, SCRAM-SHA-1 and both -PLUS bindings log in with the password set by the admin", async () => {
    const cases: [string, (socket: TLSSocket) => ScramClientOptions][] = [
      ["SCRAM-SHA-256", () => ({ hash: "sha256", username: USER, password: PASSWORD })],
      ["SCRAM-SHA-1", () => ({ hash: "sha1", username: USER, password: PASSWORD })],
      ["SCRAM-SHA-256-PLUS", (s) => ({ hash: "sha256", username: USER, password: PASSWORD, binding: { kind: "p", name: "tls-exporter", data: clientBinding(s, "tls-exporter") } })],
      ["SCRAM-SHA-1-PLUS", (s) => ({ hash: "sha1", username: USER, password: PASSWORD, binding: { kind: "p", name: "tls-server-end-point", data: clientBinding(s, "tls-server-end-point") } })],
    ];
    for (const [mechanism, options] of cases) {
      const lines = await imapConnection(full);
      const outcome = await imapScram(lines, mechanism, options(lines.socket));
      assert.ok(outcome.ok, `${mechanism}: ${outcome.final}`);
      lines.send("b SELECT INBOX");
      assert.match(await lines.until(/^b /), /^b OK/);
      lines.socket.destroy();
    }
  });

  it("IMAP: a wrong password, a foreign binding, a downgrade flag and a broken message each fail cleanly", async () => {
    const attempts: [string, (socket: TLSSocket) => ScramClientOptions, ((final: string) => string) | undefined][] = [
      ["SCRAM-SHA-256", () => ({ hash: "sha256", username: USER, password: "wrong password" }), undefined],
      // Binding data from another TLS connection: what a man in the middle would present.
      ["SCRAM-SHA-256-PLUS", () => ({ hash: "sha256", username: USER, password: PASSWORD, binding: { kind: "p", name: "tls-exporter", data: Buffer.alloc(32, 1) } }), undefined],
      // "y": the client saw no -PLUS advertised, although this TLS link offers it: a stripped list.
      ["SCRAM-SHA-256", () => ({ hash: "sha256", username: USER, password: PASSWORD, binding: { kind: "y" } }), undefined],
      ["SCRAM-SHA-256", () => ({ hash: "sha256", username: USER, password: PASSWORD }), (final) => final.replace(/,r=[^,]+/, ",r=forged-nonce")],
      ["SCRAM-SHA-256", () => ({ hash: "sha256", username: USER, password: PASSWORD }), (final) => final.replace(/,p=.*/, "")],
    ];
    for (const [mechanism, options, tamper] of attempts) {
      const lines = await imapConnection(full);
      const outcome = await imapScram(lines, mechanism, options(lines.socket), tamper);
      assert.equal(outcome.ok, false);
      assert.match(outcome.final, /^a NO \[AUTHENTICATIONFAILED\]/);
      // The session goes on: a correct exchange afterwards still works.
      const good = await imapScram(lines, "SCRAM-SHA-256", { hash: "sha256", username: USER, password: PASSWORD });
      assert.ok(good.ok, good.final);
      lines.socket.destroy();
    }
    // An oversized client-first message is refused by the SASL layer's size limit.
    const lines = await imapConnection(full);
    lines.send(`a AUTHENTICATE SCRAM-SHA-256 ${b64(`n,,n=${USER},r=${"x".repeat(10_000)}`)}`);
    assert.match(await lines.until(/^a /), /^a (BAD|NO)/);
    lines.send("b NOOP");
    assert.match(await lines.until(/^b /), /^b OK/);
    lines.socket.destroy();
  });

  it("SMTP submission, POP3 and ManageSieve authenticate with SCRAM through the same layer", async () => {
    // SMTP (RFC 4954): 334 challenges, server-final as a last 334, empty answer, 235.
    {
      const lines = new Lines(await openTls("submission", "127.0.0.1", full.portOf("submission")));
      lines.send("EHLO client.example");
      const ehlo = await lines.until(/^250 /);
      void ehlo;
      const client = new ScramClient({ hash: "sha256", username: USER, password: PASSWORD, binding: { kind: "p", name: "tls-exporter", data: clientBinding(lines.socket, "tls-exporter") } });
      lines.send(`AUTH SCRAM-SHA-256-PLUS ${b64(client.first())}`);
      const first = await lines.line();
      assert.match(first, /^334 /);
      lines.send(b64(client.final(unb64(first.slice(4)))));
      const second = await lines.line();
      assert.ok(client.verifyServerFinal(unb64(second.slice(4))), second);
      lines.send("");
      assert.match(await lines.line(), /^235 /);
      lines.socket.destroy();
    }
    // POP3 (RFC 5034): "+ " challenges.
    {
      const lines = new Lines(await openTls("pop3", "127.0.0.1", full.portOf("pop3")));
      lines.send("CAPA");
      assert.match(await lines.until(/^SASL /), /SCRAM-SHA-1-PLUS/);
      await lines.until(/^\.$/);
      const client = new ScramClient({ hash: "sha1", username: USER, password: PASSWORD });
      lines.send(`AUTH SCRAM-SHA-1 ${b64(client.first())}`);
      const first = await lines.line();
      lines.send(b64(client.final(unb64(first.slice(2)))));
      const second = await lines.line();
      assert.ok(client.verifyServerFinal(unb64(second.slice(2))), second);
      lines.send("");
      assert.match(await lines.line(), /^\+OK/);
      lines.socket.destroy();
    }
    // ManageSieve (RFC 5804 §2.1): challenges and responses as quoted strings.
    {
      const lines = new Lines(await openTls("managesieve", "127.0.0.1", full.portOf("managesieve")));
      await lines.until(/^OK/);
      const client = new ScramClient({ hash: "sha256", username: USER, password: PASSWORD });
      lines.send(`AUTHENTICATE "SCRAM-SHA-256" "${b64(client.first())}"`);
      const first = (await lines.line()).replace(/^"|"$/g, "");
      lines.send(`"${b64(client.final(unb64(first)))}"`);
      const second = (await lines.line()).replace(/^"|"$/g, "");
      assert.ok(client.verifyServerFinal(unb64(second)), second);
      lines.send('""');
      assert.match(await lines.line(), /^OK/);
      lines.socket.destroy();
    }
  });

  it("an account made before SCRAM gets its keys at its next PLAIN login", async () => {
    const store = full.server.store;
    await store.accounts.createAccount({ address: "legacy@example.org", passwordHash: await hashPassword("legacy password", { params: { memoryCost: 1024, timeCost: 1, parallelism: 1 } }) });
    let lines = await imapConnection(full);
    assert.equal((await imapScram(lines, "SCRAM-SHA-256", { hash: "sha256", username: "legacy@example.org", password: "legacy password" })).ok, false);
    lines.send(`b LOGIN legacy@example.org "legacy password"`);
    assert.match(await lines.until(/^b /), /^b OK/);
    lines.socket.destroy();
    lines = await imapConnection(full);
    const outcome = await imapScram(lines, "SCRAM-SHA-256", { hash: "sha256", username: "legacy@example.org", password: "legacy password" });
    assert.ok(outcome.ok, outcome.final);
    lines.socket.destroy();
  });

  it("interop: python3's imaplib drives SCRAM-SHA-256 through its authenticate() callback (hashlib, a third implementation)", async () => {
    const script = `
import base64, hashlib, hmac, imaplib, os, ssl, sys
user, password = sys.argv[2], sys.argv[3]
cnonce = base64.b64encode(os.urandom(18)).decode()
bare = "n=" + user.replace("=", "=3D").replace(",", "=2C") + ",r=" + cnonce
state = {}
def step(challenge):
    if "final" in state:
        ok = challenge.decode() == "v=" + base64.b64encode(state["final"]).decode()
        print("server-verified", ok)
        return b""
    if challenge == b"":
        return ("n,," + bare).encode()
    server_first = challenge.decode()
    f = dict(p.split("=", 1) for p in server_first.split(","))
    assert f["r"].startswith(cnonce)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(f["s"]), int(f["i"]))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored = hashlib.sha256(client_key).digest()
    without = "c=biws,r=" + f["r"]
    auth = (bare + "," + server_first + "," + without).encode()
    sig = hmac.new(stored, auth, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    state["final"] = hmac.new(hmac.new(salted, b"Server Key", "sha256").digest(), auth, "sha256").digest()
    return (without + ",p=" + base64.b64encode(proof).decode()).encode()
c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
c.starttls(ssl_context=ssl._create_unverified_context())
print(c.authenticate("SCRAM-SHA-256", step)[0])
print(c.select("INBOX")[0])
`;
    const result = await run("python3", ["-c", script, String(full.portOf("imap")), USER, PASSWORD]);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /server-verified True\nOK\nOK/);
    const wrong = await run("python3", ["-c", script, String(full.portOf("imap")), USER, "wrong password"]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.output, /AUTHENTICATIONFAILED/);
  });

  it("interop: GNU SASL's gsasl logs in with SCRAM: IMAP over STARTTLS with both -PLUS forms, SMTP without TLS", async () => {
    const gsasl = (flag: string, port: number, mechanism: string, password: string, tls: string[]) =>
      run("gsasl", [flag, "--connect", `127.0.0.1:${port}`, ...tls, "--hostname", "mx.example.org", "-a", USER, "-p", password, "-m", mechanism, "--verbose"]);
    const starttls = ["--starttls", "--x509-ca-file="];
    // gsasl binds with tls-exporter on TLS 1.3 (RFC 9266); --no-cb makes it send "n" for the plain forms.
    for (const [mechanism, tls] of [["SCRAM-SHA-256-PLUS", starttls], ["SCRAM-SHA-1-PLUS", starttls], ["SCRAM-SHA-256", [...starttls, "--no-cb"]]] as const) {
      const result = await gsasl("--imap", full.portOf("imap"), mechanism, PASSWORD, [...tls]);
      assert.equal(result.code, 0, `gsasl --imap ${mechanism}: ${result.output}`);
    }
    // gsasl's SMTP mode sends STARTTLS before EHLO, which RFC 3207 §4 does not allow (503), so SMTP
    // is tried without TLS: SCRAM sends no password, and the server offers it there.
    for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-1"]) {
      const result = await gsasl("--smtp", full.portOf("submission"), mechanism, PASSWORD, ["--no-starttls"]);
      assert.equal(result.code, 0, `gsasl --smtp ${mechanism}: ${result.output}`);
    }
    for (const [flag, port, tls] of [["--imap", full.portOf("imap"), starttls], ["--smtp", full.portOf("submission"), ["--no-starttls"]]] as const) {
      const wrong = await gsasl(flag, port, flag === "--imap" ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256", "not the password", [...tls]);
      assert.notEqual(wrong.code, 0, `gsasl ${flag} with a wrong password must fail: ${wrong.output}`);
    }
  });
});
