// RFC 4978 COMPRESS=DEFLATE over real sockets: a raw client that deflates its own commands (exact
// responses, the error paths, a decompression bomb the server survives with a plain BAD), and
// imapflow, which compresses by itself after login, over implicit TLS and through IDLE.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw } from "node:zlib";
import { ImapFlow } from "imapflow";
import { deliverTo, startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";

/** A socket that, once compressing, deflates what it sends and inflates what it receives. */
class DeflatingClient {
  private received = "";
  private readonly deflate: DeflateRaw = createDeflateRaw({ flush: constants.Z_SYNC_FLUSH });
  private compressing = false;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    const inflate = createInflateRaw({ flush: constants.Z_SYNC_FLUSH });
    inflate.on("data", (chunk: Buffer) => (this.received += chunk.toString("latin1")));
    inflate.on("error", () => {});
    this.deflate.on("data", (chunk: Buffer) => socket.write(chunk));
    socket.on("data", (chunk: Buffer) => {
      if (this.compressing) inflate.write(chunk);
      else this.received += chunk.toString("latin1");
    });
    socket.on("close", () => (this.closed = true));
    socket.on("error", () => {});
  }

  static async open(port: number): Promise<DeflatingClient> {
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    const client = new DeflatingClient(socket);
    await client.until((text) => text.includes("\r\n"));
    client.received = "";
    return client;
  }

  /** Sends COMPRESS DEFLATE uncompressed; on OK, switches both directions. */
  async compress(tag: string): Promise<string> {
    this.socket.write(`${tag} COMPRESS DEFLATE\r\n`);
    const reply = await this.until((t) => new RegExp(`^${tag} (OK|NO|BAD)`, "m").test(t));
    this.received = "";
    if (/ OK/.test(reply)) this.compressing = true;
    return reply;
  }

  send(data: string | Buffer): void {
    if (this.compressing) this.deflate.write(data);
    else this.socket.write(data);
  }

  async command(tag: string, text: string): Promise<string> {
    this.send(`${tag} ${text}\r\n`);
    const reply = await this.until((t) => new RegExp(`^${tag} (OK|NO|BAD)[^\r]*\r\n`, "m").test(t));
    this.received = "";
    return reply;
  }

  async until(test: (text: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!test(this.received)) {
      if (this.closed) throw new Error(`connection closed; received: ${JSON.stringify(this.received.slice(-300))}`);
      if (Date.now() > deadline) throw new Error(`timed out; received: ${JSON.stringify(this.received.slice(-300))}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.received;
  }

  close(): void {
    this.socket.destroy();
  }
}

describe("IMAP COMPRESS=DEFLATE (RFC 4978)", () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImapHarness();
  });
  after(() => h.stop());

  it("is advertised, and refused before login and for other mechanisms", async () => {
    const raw = await RawImapClient.open(h.ports.imap);
    assert.match(await raw.command("c1", "COMPRESS DEFLATE"), /c1 BAD/);
    assert.match(await raw.command("l1", "LOGIN alice@example.org alice-pass"), /l1 OK/);
    assert.match(await raw.command("c2", "CAPABILITY"), /COMPRESS=DEFLATE/);
    assert.match(await raw.command("c3", "COMPRESS LZMA"), /c3 BAD/);
    assert.match(await raw.command("c4", "COMPRESS"), /c4 BAD/);
    raw.close();
  });

  it("compresses both directions after the OK; a second COMPRESS is NO [COMPRESSIONACTIVE]", async () => {
    const client = await DeflatingClient.open(h.ports.imap);
    assert.match(await client.command("l1", "LOGIN alice@example.org alice-pass"), /l1 OK/);
    assert.match(await client.compress("z1"), /^z1 OK/m);
    assert.match(await client.command("s1", "SELECT INBOX"), /\* FLAGS .*\r\n[^]*s1 OK \[READ-WRITE\]/);
    assert.match(await client.command("z2", "COMPRESS DEFLATE"), /z2 NO \[COMPRESSIONACTIVE\]/);
    // A literal and a large response through the compressed link.
    const body = `Subject: compressed\r\n\r\n${"line of text\r\n".repeat(2000)}`;
    client.send(`a1 APPEND INBOX {${body.length}+}\r\n${body}\r\n`);
    await client.until((t) => /a1 OK/.test(t));
    const fetched = await client.command("f1", "FETCH * BODY.PEEK[]");
    assert.ok(fetched.includes(body), "the message comes back intact");
    assert.match(await client.command("o1", "LOGOUT"), /\* BYE[^]*o1 OK/);
    client.close();
  });

  it("after UNAUTHENTICATE under COMPRESS, STARTTLS is neither offered nor accepted (TLS cannot start beneath DEFLATE)", async () => {
    const client = await DeflatingClient.open(h.ports.imap);
    assert.match(await client.command("p0", "CAPABILITY"), /STARTTLS/, "offered on the plain link before COMPRESS");
    assert.match(await client.command("p1", "LOGIN alice@example.org alice-pass"), /p1 OK/);
    assert.match(await client.compress("p2"), /^p2 OK/m);
    assert.match(await client.command("p3", "UNAUTHENTICATE"), /p3 OK/);
    assert.doesNotMatch(await client.command("p4", "CAPABILITY"), /STARTTLS/);
    assert.match(await client.command("p5", "STARTTLS"), /p5 BAD/);
    // The compressed link still works.
    assert.match(await client.command("p6", "NOOP"), /p6 OK/);
    client.close();
  });

  it("a decompression bomb (a 192 MiB line in ~190 KiB) gets BAD, and the session carries on", async () => {
    const client = await DeflatingClient.open(h.ports.imap);
    assert.match(await client.command("l1", "LOGIN alice@example.org alice-pass"), /l1 OK/);
    assert.match(await client.compress("z1"), /^z1 OK/m);
    const before = process.memoryUsage().rss;
    client.send("b1 NOOP ");
    const mib = Buffer.alloc(1024 * 1024, 0x41);
    for (let i = 0; i < 192; i++) client.send(mib);
    client.send("\r\n");
    const reply = await client.until((t) => /b1 BAD/.test(t), 60_000);
    assert.match(reply, /b1 BAD[^\r]*too long/);
    assert.match(await client.command("n1", "NOOP"), /n1 OK/);
    // The server (in this process) never held the inflated line: holding it would add 192 MiB;
    // what grows is garbage of the 1 MiB pieces between collections (~35 MiB measured).
    const grown = process.memoryUsage().rss - before;
    assert.ok(grown < 128 * 1024 * 1024, `rss grew by ${grown}`);
    client.close();
  });

  it("works after STARTTLS, and imapflow compresses over implicit TLS, with IDLE updates arriving", async () => {
    // STARTTLS, then login, then COMPRESS: the layers stack (TLS below DEFLATE).
    const plain = connect(h.ports.imap, "127.0.0.1");
    await once(plain, "connect");
    let text = "";
    const onPlain = (c: Buffer) => (text += c.toString("latin1"));
    plain.on("data", onPlain);
    plain.write("t1 STARTTLS\r\n");
    while (!/t1 OK/.test(text)) await new Promise((r) => setTimeout(r, 10));
    plain.off("data", onPlain);
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false });
    await once(secure, "secureConnect");
    let received = "";
    let compressing = false;
    const inflate = createInflateRaw({ flush: constants.Z_SYNC_FLUSH });
    inflate.on("data", (c: Buffer) => (received += c.toString("latin1")));
    secure.on("data", (c: Buffer) => (compressing ? inflate.write(c) : (received += c.toString("latin1"))));
    const wait = async (re: RegExp) => {
      const deadline = Date.now() + 10_000;
      while (!re.test(received)) {
        if (Date.now() > deadline) throw new Error(`timed out: ${received}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    secure.write("l1 LOGIN alice@example.org alice-pass\r\n");
    await wait(/l1 OK/);
    secure.write("z1 COMPRESS DEFLATE\r\n");
    await wait(/z1 OK/);
    compressing = true;
    received = "";
    const deflate = createDeflateRaw({ flush: constants.Z_SYNC_FLUSH });
    deflate.on("data", (c: Buffer) => secure.write(c));
    deflate.write("s1 STATUS INBOX (MESSAGES)\r\n");
    await wait(/\* STATUS "?INBOX"? \(MESSAGES \d+\)\r\ns1 OK/);
    secure.destroy();

    const flow = new ImapFlow({ host: "127.0.0.1", port: h.ports.imaps, secure: true, auth: { user: "bob@example.org", pass: "bob-pass" }, tls: { rejectUnauthorized: false }, logger: false });
    await flow.connect();
    try {
      // imapflow compresses on its own after login when the server offers it.
      assert.ok(flow.capabilities.has("COMPRESS=DEFLATE"));
      assert.equal((flow as unknown as { _deflate?: unknown })._deflate !== undefined && (flow as unknown as { _deflate?: unknown })._deflate !== null, true, "imapflow switched to DEFLATE");
      const lock = await flow.getMailboxLock("INBOX");
      try {
        const exists = new Promise<number>((resolve) => flow.once("exists", (event: { count: number }) => resolve(event.count)));
        const idling = flow.idle();
        await new Promise((r) => setTimeout(r, 300));
        await deliverTo(h, h.accounts.bob, "while idling compressed");
        const count = await Promise.race([exists, new Promise<number>((_, reject) => setTimeout(() => reject(new Error("no EXISTS during IDLE")), 10_000))]);
        assert.ok(count >= 1);
        const messages = [];
        for await (const m of flow.fetch("1:*", { envelope: true })) messages.push(m.envelope?.subject);
        assert.ok(messages.includes("while idling compressed"));
        void idling;
      } finally {
        lock.release();
      }
    } finally {
      await flow.logout();
    }
  });
});
