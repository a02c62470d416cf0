// IMAP FETCH end to end: the real IMAP server (createImapServer on the production listener
// framework) over loopback TCP with a real SQLite store, read by two independent clients —
// imapflow (Node) and python3 imaplib — checking octets, not just shapes: BODY[] byte-exact with
// the trace prefix, BODY[n.m], HEADER.FIELDS, partials, BODYSTRUCTURE as imapflow parses it,
// BINARY of a base64 attachment equal to the original bytes, and \Seen set by BODY[] only.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { ImapFlow } from "imapflow";
import { Authenticator, AuthThrottle } from "../../src/auth/index.js";
import { createImapServer } from "../../src/imap/imap-server.js";
import { TlsContextProvider } from "../../src/net/index.js";
import { silentLogger } from "../../src/observability/log.js";
import { startListeners, type ListenerSet } from "../../src/server/listeners.js";
import type { Mailbox, Uid } from "../../src/store/index.js";
import { readMessageFixture } from "../harness/fixtures.js";
import { CHEAP_HASH_PARAMS, cheapHash, openTempStore, type TempStore } from "../harness/temp-store.js";

const run = promisify(execFile);
const PREFIX = "Return-Path: <bob@example.net>\r\nReceived: from relay.example.net by mx.example.org; Tue, 4 Mar 2025 10:00:01 +0000\r\n";

let temp: TempStore;
let listeners: ListenerSet;
let port: number;
let inbox: Mailbox;
const uid: Record<"plain" | "mixed" | "nested", Uid> = {} as never;
const logical: Record<keyof typeof uid, Buffer> = {} as never;

before(async () => {
  temp = await openTempStore("mailroom-imap-fetch-e2e-");
  const { store } = temp;
  await store.addDomain("example.org");
  const account = await store.createAccount({ address: "alice@example.org", passwordHash: await cheapHash("alice-pass") });
  inbox = (await store.getMailbox(account.id, "INBOX"))!;
  for (const [name, file] of [
    ["plain", "plain.eml"],
    ["mixed", "mixed-attachment.eml"],
    ["nested", "nested-rfc822.eml"],
  ] as const) {
    const bytes = await readMessageFixture(import.meta.url, file);
    const result = await store.deliver({ source: bytes, internalDate: new Date("2025-03-04T10:00:01Z"), targets: [{ mailboxId: inbox.id, prefix: Buffer.from(PREFIX) }] });
    uid[name] = result.copies[0]!.uid;
    logical[name] = Buffer.concat([Buffer.from(PREFIX), bytes]);
  }
  const authenticator = new Authenticator({ accounts: store, throttle: new AuthThrottle(), log: silentLogger, hashParams: CHEAP_HASH_PARAMS, sleep: async () => {} });
  const limits = { imapLineLength: 64 * 1024, imapLiteralSize: 1024 * 1024, imapIdle: 60_000, imapUnauthenticatedIdle: 60_000, tlsHandshakeTimeout: 5_000 };
  const imap = createImapServer({ store, authenticator, tls: null, limits, allowPlaintextAuth: true, hostname: "imap.example.org", log: silentLogger, implicitTls: false });
  // The listener framework wants a certificate; this IMAP server offers no STARTTLS (tls: null).
  const tls = await TlsContextProvider.open({ certFile: null, keyFile: null, dataDir: temp.dataDir, hostname: "imap.example.org", minVersion: "TLSv1.2", log: silentLogger });
  listeners = await startListeners({
    listeners: [{ protocol: "imap", port: 0, address: "127.0.0.1", tls: "starttls" }],
    tls,
    limits: { connectionsPerIp: 100, connectionsTotal: 100, tlsHandshakeTimeout: 5_000 },
    log: silentLogger,
    handlerFor: (protocol) => (protocol === "imap" ? imap : null),
    portFallbackOffset: 0,
    closeLingerMs: 100,
  });
  port = listeners.bound[0]!.port;
});

after(async () => {
  await listeners?.drain(500);
  await temp?.cleanup();
});

async function withImapflow<T>(body: (client: ImapFlow) => Promise<T>): Promise<T> {
  const client = new ImapFlow({ host: "127.0.0.1", port, secure: false, doSTARTTLS: false, auth: { user: "alice@example.org", pass: "alice-pass" }, logger: false });
  await client.connect();
  try {
    await client.mailboxOpen("INBOX");
    return await body(client);
  } finally {
    await client.logout();
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

const pdf = (): Buffer => {
  const raw = logical.mixed.toString("latin1");
  return Buffer.from(raw.split("Content-Language: en, fr\r\n\r\n")[1]!.split("\r\n--outer-boundary")[0]!, "base64");
};

describe("FETCH with imapflow", () => {
  it("BODY.PEEK[] is the logical message byte for byte", async () => {
    await withImapflow(async (client) => {
      for (const name of ["plain", "mixed", "nested"] as const) {
        const message = await client.fetchOne(String(uid[name]), { source: true, size: true }, { uid: true });
        assert.ok(message);
        assert.deepEqual(message.source, logical[name], name);
        assert.equal(message.size, logical[name].length, name);
      }
    });
  });

  it("BODYSTRUCTURE parses into the expected tree", async () => {
    await withImapflow(async (client) => {
      const message = await client.fetchOne(String(uid.mixed), { bodyStructure: true, envelope: true }, { uid: true });
      assert.ok(message && message.bodyStructure && message.envelope);
      const root = message.bodyStructure;
      assert.equal(root.type, "multipart/mixed");
      assert.equal(root.parameters?.boundary, "outer-boundary");
      const [text, attachment, numbers] = root.childNodes ?? [];
      assert.equal(text?.type, "text/plain");
      assert.equal(text?.size, 13);
      assert.equal(attachment?.part, "2");
      assert.equal(attachment?.type, "application/pdf");
      assert.equal(attachment?.encoding, "base64");
      assert.equal(attachment?.size, 196);
      assert.equal(attachment?.id, "<pdf1@example.net>");
      assert.equal(attachment?.disposition, "attachment");
      assert.equal(attachment?.dispositionParameters?.filename, "résumé final.pdf");
      assert.equal(numbers?.part, "3");
      assert.equal(numbers?.lineCount, 1);
      assert.equal(message.envelope.subject, "Report");
      assert.equal(message.envelope.from?.[0]?.address, "bob@example.net");

      const nested = await client.fetchOne(String(uid.nested), { bodyStructure: true }, { uid: true });
      assert.ok(nested);
      const forwarded = nested.bodyStructure?.childNodes?.[1];
      assert.equal(forwarded?.type, "message/rfc822");
      assert.equal(forwarded?.envelope?.subject, "Plans");
      assert.equal(forwarded?.envelope?.messageId, "<inner@example.org>");
      assert.deepEqual(forwarded?.childNodes?.[0]?.childNodes?.map((node) => [node.part, node.type]), [
        ["2.1", "text/plain"],
        ["2.2", "text/html"],
      ]);
    });
  });

  it("BINARY of a base64 attachment (imapflow download) equals the original octets", async () => {
    await withImapflow(async (client) => {
      const download = await client.download(String(uid.mixed), "2", { uid: true, binary: true });
      assert.ok("content" in download && download.content);
      assert.deepEqual(await readAll(download.content), pdf());
    });
  });

  it("header fields and body parts", async () => {
    await withImapflow(async (client) => {
      const message = await client.fetchOne(String(uid.nested), { headers: ["subject", "to"], bodyParts: ["2.1", "1"] }, { uid: true });
      assert.ok(message);
      assert.equal(message.headers?.toString(), "To: erin@example.com\r\nSubject: Fwd: Plans\r\n\r\n");
      assert.equal(message.bodyParts?.get("2.1")?.toString(), "Plan A");
      assert.equal(message.bodyParts?.get("1")?.toString(), "Forwarding this.");
    });
  });
});

/** Runs a python3 imaplib script; it prints one JSON line. */
async function python(script: string): Promise<Record<string, unknown>> {
  const prelude = [
    "import base64, imaplib, json, os, sys",
    "M = imaplib.IMAP4('127.0.0.1', int(os.environ['PORT']))",
    "M.login('alice@example.org', 'alice-pass')",
    "M.select('INBOX')",
    "def data(typ_dat):",
    "    typ, dat = typ_dat",
    "    assert typ == 'OK', (typ, dat)",
    "    return [d for d in dat if isinstance(d, tuple)]",
    "def b64(b): return base64.b64encode(b).decode()",
    "def flags(uid):",
    "    typ, dat = M.uid('FETCH', str(uid), '(FLAGS)')",
    "    return dat[0].decode()",
  ].join("\n");
  const { stdout } = await run("python3", ["-c", `${prelude}\n${script}\nM.logout()`], { env: { ...process.env, PORT: String(port) } });
  return JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as Record<string, unknown>;
}

describe("FETCH with python imaplib", () => {
  it("byte-exact sections, partials and BINARY", async () => {
    const result = await python(
      [
        `u = ${uid.mixed}`,
        "whole = data(M.uid('FETCH', str(u), '(BODY.PEEK[])'))[0]",
        "part = data(M.uid('FETCH', str(u), '(BODY.PEEK[2])'))[0]",
        "partial = data(M.uid('FETCH', str(u), '(BODY.PEEK[]<5.20>)'))[0]",
        "fields = data(M.uid('FETCH', str(u), '(BODY.PEEK[HEADER.FIELDS (Return-Path Subject)])'))[0]",
        "binary = data(M.uid('FETCH', str(u), '(BINARY.PEEK[2] BINARY.SIZE[2])'))[0]",
        "print(json.dumps({'wholeHead': whole[0].decode(), 'whole': b64(whole[1]), 'partHead': part[0].decode(), 'part': b64(part[1]),",
        "  'partialHead': partial[0].decode(), 'partial': b64(partial[1]), 'fields': b64(fields[1]), 'binaryHead': binary[0].decode(), 'binary': b64(binary[1])}))",
      ].join("\n"),
    );
    const raw = logical.mixed;
    const b = (key: string): Buffer => Buffer.from(String(result[key]), "base64");
    assert.deepEqual(b("whole"), raw);
    assert.match(String(result.wholeHead), new RegExp(`UID ${uid.mixed} BODY\\[\\] \\{${raw.length}\\}$`));
    const text = raw.toString("latin1");
    const partText = text.split("Content-Language: en, fr\r\n\r\n")[1]!.split("\r\n--outer-boundary")[0]!;
    assert.equal(b("part").toString("latin1"), partText);
    assert.match(String(result.partialHead), /BODY\[\]<5> \{20\}$/);
    assert.deepEqual(b("partial"), raw.subarray(5, 25));
    assert.equal(b("fields").toString(), "Return-Path: <bob@example.net>\r\nSubject: Report\r\n\r\n");
    assert.deepEqual(b("binary"), pdf());
    assert.match(String(result.binaryHead), new RegExp(`BINARY\\[2\\] \\{${pdf().length}\\}$`));
  });

  it("BODY.PEEK[] leaves \\Seen alone; BODY[] sets it and reports FLAGS", async () => {
    await temp.store.updateFlags(inbox.id, [uid.plain], { mode: "remove", flags: ["\\Seen"] });
    const result = await python(
      [
        `u = ${uid.plain}`,
        "data(M.uid('FETCH', str(u), '(BODY.PEEK[])'))",
        "afterPeek = flags(u)",
        "typ, dat = M.uid('FETCH', str(u), '(BODY[])')",
        "tail = [d.decode() for d in dat if isinstance(d, bytes)]",
        "afterBody = flags(u)",
        "print(json.dumps({'afterPeek': afterPeek, 'tail': tail, 'afterBody': afterBody}))",
      ].join("\n"),
    );
    assert.doesNotMatch(String(result.afterPeek), /\\Seen/);
    assert.match(JSON.stringify(result.tail), /FLAGS \(\\\\Seen\)\)/);
    assert.match(String(result.afterBody), /\\Seen/);
    const stored = await temp.store.getMessages(inbox.id, [uid.plain]);
    assert.deepEqual(stored[0]?.flags, ["\\Seen"]);
  });
});
