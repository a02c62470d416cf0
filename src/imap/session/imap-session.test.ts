// ImapSession over a fake transport (sans-IO, ARCHITECTURE §5.8): state checks answer BAD with
// the command's name, store errors become NO with their RFC 5530 code, an unexpected exception
// becomes NO [SERVERBUG] with nothing of it on the wire and an error log line carrying the
// connection id, and a streamed APPEND split at odd boundaries reaches the store intact.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openTempStore, type TempStore } from "../../../test/harness/temp-store.js";
import type { SaslCredentials } from "../../auth/index.js";
import type { LogFields, Logger } from "../../observability/log.js";
import { StoreError, type Account, type MailStore } from "../../store/index.js";
import { ImapSession } from "./imap-session.js";
import type { Timers } from "./timers.js";

/** Input pushed by the test, output collected; read() waits for input like a socket. */
class FakeTransport {
  output = "";
  closed = false;
  private input: (Buffer | null)[] = [];
  private waiting: ((chunk: Buffer | null) => void) | null = null;
  private outputWaiters: (() => void)[] = [];

  push(chunk: string | Buffer | null): void {
    const value = chunk === null ? null : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, "latin1");
    if (this.waiting !== null) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve(value);
    } else this.input.push(value);
  }
  read(): Promise<Buffer | null> {
    if (this.input.length > 0) return Promise.resolve(this.input.shift() ?? null);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiting = resolve));
  }
  async write(bytes: Buffer): Promise<void> {
    if (this.closed) throw new Error("closed");
    this.output += bytes.toString("latin1");
    for (const wake of this.outputWaiters.splice(0)) wake();
  }
  async startTls(): Promise<void> {
    throw new Error("no TLS here");
  }
  close(): void {
    this.closed = true;
    this.waiting?.(null);
    this.waiting = null;
  }
  /** Waits for the tagged reply of `tag` and returns (and forgets) everything written so far. */
  async reply(tag: string): Promise<string> {
    const done = new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`);
    while (!done.test(this.output)) {
      if (this.closed) throw new Error(`closed; output: ${this.output}`);
      await new Promise<void>((resolve) => this.outputWaiters.push(resolve));
    }
    const out = this.output;
    this.output = "";
    return out;
  }
  async until(text: string): Promise<void> {
    while (!this.output.includes(text)) await new Promise<void>((resolve) => this.outputWaiters.push(resolve));
  }
}

class RecordingLogger implements Logger {
  readonly lines: { level: string; event: string; fields: LogFields }[] = [];
  debug = (event: string, fields: LogFields = {}) => void this.lines.push({ level: "debug", event, fields });
  info = (event: string, fields: LogFields = {}) => void this.lines.push({ level: "info", event, fields });
  warn = (event: string, fields: LogFields = {}) => void this.lines.push({ level: "warn", event, fields });
  error = (event: string, fields: LogFields = {}) => void this.lines.push({ level: "error", event, fields });
  child = () => this;
}

const noTimers: Timers = { set: () => ({ cancel: () => undefined }) };

describe("ImapSession", () => {
  let temp: TempStore;
  let account: Account;
  before(async () => {
    temp = await openTempStore("mailroom-imap-session-");
    await temp.store.addDomain("example.org");
    account = await temp.store.createAccount({ address: "alice@example.org", passwordHash: "$argon2id$unused" });
  });
  after(async () => temp.cleanup());

  function start(store: MailStore = temp.store, clock: () => Date = () => new Date("2026-01-01T00:00:00Z")) {
    const transport = new FakeTransport();
    const log = new RecordingLogger();
    const session = new ImapSession({
      transport,
      store,
      authenticator: {
        authenticateSasl: async (credentials: SaslCredentials) =>
          credentials.kind === "password" && credentials.password === "pw" ? { ok: true as const, account } : { ok: false as const, reason: "invalid-credentials" as const },
      },
      limits: { imapLineLength: 1000, imapLiteralSize: 10_000, imapIdle: 60_000, imapUnauthenticatedIdle: 60_000 },
      timers: noTimers,
      clock,
      log,
      hostname: "imap.test",
      remoteAddress: "127.0.0.1",
      tls: true,
      startTlsAvailable: false,
      allowPlaintextAuth: true,
      id: "conn-42",
    });
    const running = session.run();
    return { transport, log, session, running };
  }

  it("answers commands outside their states with BAD naming the command", async () => {
    const { transport, running } = start();
    await transport.until("\r\n");
    transport.output = "";
    const expect = async (tag: string, line: string, reply: RegExp) => {
      transport.push(`${tag} ${line}\r\n`);
      assert.match(await transport.reply(tag), reply);
    };
    await expect("a1", "SELECT INBOX", /^a1 BAD SELECT is not allowed in this state\r\n$/);
    await expect("a2", "UID FETCH 1 FLAGS", /^a2 BAD UID FETCH is not allowed in this state\r\n$/);
    await expect("a3", "FROB", /^a3 BAD unknown command FROB\r\n$/);
    // RFC 2971: ID in any state, advertised.
    await expect("c1", "CAPABILITY", /\* CAPABILITY (?=[^\r\n]*\bID\b)(?=[^\r\n]*\bMULTIAPPEND\b)/);
    await expect("c2", 'ID ("name" "test")', /^\* ID \("name" "Mailroom"\)\r\nc2 OK/);
    await expect("a4", "LOGIN alice@example.org nope", /^a4 NO \[AUTHENTICATIONFAILED\]/);
    await expect("a5", "LOGIN alice@example.org pw", /^a5 OK /);
    await expect("a6", "LOGIN alice@example.org pw", /^a6 BAD LOGIN is not allowed in this state\r\n$/);
    await expect("a7", "EXPUNGE", /^a7 BAD EXPUNGE is not allowed in this state\r\n$/);
    await expect("a8", "CLOSE", /^a8 BAD CLOSE is not allowed in this state\r\n$/);
    await expect("a9", "SELECT INBOX", /a9 OK \[READ-WRITE\] SELECT completed\r\n$/);
    await expect("b1", "FETCH 1 FLAGS", /^b1 BAD invalid message sequence number/);
    await expect("b2", "LOGOUT", /^\* BYE [^\r\n]*\r\nb2 OK /);
    await running;
    assert.ok(transport.closed);
  });

  it("maps a store error to NO with its code, and an unexpected exception to NO [SERVERBUG] with a logged connection id", async () => {
    const failing = new Proxy(temp.store as MailStore, {
      get(target, property, receiver) {
        if (property === "createMailbox") return async () => Promise.reject(new StoreError("OVERQUOTA", "account 7 is over quota"));
        if (property === "mailboxStatus") return async () => Promise.reject(new TypeError("cannot read x of undefined at /srv/secret.ts:12"));
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const { transport, log, running } = start(failing);
    transport.push("a1 LOGIN alice@example.org pw\r\n");
    await transport.reply("a1");
    transport.push("a2 CREATE Archive\r\n");
    assert.equal(await transport.reply("a2"), "a2 NO [OVERQUOTA] quota exceeded\r\n");
    assert.equal(log.lines.filter((l) => l.level === "error").length, 0, "a store error is not a bug");
    transport.push("a3 STATUS INBOX (MESSAGES)\r\n");
    const reply = await transport.reply("a3");
    assert.equal(reply, "a3 NO [SERVERBUG] internal server error\r\n");
    assert.doesNotMatch(reply, /secret|TypeError/);
    const errors = log.lines.filter((l) => l.level === "error");
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.event, "imap.command_failed");
    assert.equal(errors[0]?.fields.session, "conn-42");
    assert.equal(errors[0]?.fields.command, "STATUS");
    transport.push("a4 NOOP\r\n");
    assert.match(await transport.reply("a4"), /^a4 OK/);
    transport.push(null);
    await running;
  });

  it("logs each protocol error (BAD, a NO from the grammar) at info with the session id, at most 10 a minute", async () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    const { transport, log, running } = start(temp.store, () => new Date(now));
    const protocolErrors = () => log.lines.filter((l) => l.event === "imap.protocol_error");
    transport.push("a1 FROB\r\n");
    await transport.reply("a1");
    assert.deepEqual(protocolErrors().map((l) => [l.level, l.fields]), [["info", { session: "conn-42", command: null, status: "BAD", code: null, text: "unknown command FROB" }]]);
    transport.push("a2 LOGIN alice@example.org pw\r\n");
    await transport.reply("a2");
    // A NO the grammar gives (an unusable mailbox name) is a protocol error; a NO of the store is not.
    transport.push("a3 SELECT &Jjo\r\na4 SELECT Nowhere\r\na5 FETCH 1 FLAGS\r\n");
    await transport.reply("a5");
    assert.deepEqual(protocolErrors().slice(1).map((l) => [l.fields.command, l.fields.status, l.fields.code]), [["SELECT", "NO", "CANNOT"], [null, "BAD", null]]);
    // A flood: the first lines of the minute are logged, the rest only counted.
    for (let i = 0; i < 50; i++) transport.push(`f${i} FETCH 1 (BOGUS)\r\n`);
    await transport.reply("f49");
    assert.equal(protocolErrors().length, 10);
    now += 60_000;
    transport.push("b1 NOOP junk\r\n");
    await transport.reply("b1");
    assert.equal(protocolErrors().length, 11);
    assert.equal(protocolErrors()[10]?.fields.suppressedBefore, 43);
    for (let i = 0; i < 12; i++) transport.push(`g${i} STATUS\r\n`);
    await transport.reply("g11");
    transport.push(null);
    await running;
    assert.deepEqual(log.lines.filter((l) => l.event === "imap.protocol_errors_suppressed").map((l) => l.fields), [{ session: "conn-42", count: 3 }]);
    assert.equal(log.lines.filter((l) => l.level === "error").length, 0);
  });

  it("streams an APPEND pushed one byte at a time, and refuses a missing mailbox before `+`", async () => {
    const { transport, running } = start();
    transport.push("a1 LOGIN alice@example.org pw\r\n");
    await transport.reply("a1");
    transport.push("a2 APPEND Nowhere {10}\r\n");
    assert.equal(await transport.reply("a2"), "a2 NO [TRYCREATE] no such mailbox\r\n");
    const message = "Subject: hi\r\n\r\nsplit at every byte\r\n";
    transport.push(`a3 APPEND INBOX (\\Flagged) {${message.length}}\r\n`);
    await transport.until("+ Ready for literal data\r\n");
    for (const byte of `${message} {${message.length}+}\r\n${message}\r\n`) transport.push(byte);
    assert.match(await transport.reply("a3"), /^\+ Ready for literal data\r\na3 OK \[APPENDUID \d+ \d+:\d+\] APPEND completed\r\n$/);
    const inbox = await temp.store.getMailbox(account.id, "INBOX");
    const stored = await temp.store.getMessages(inbox!.id, (await temp.store.listMessages(inbox!.id)).map((m) => m.uid));
    assert.deepEqual(stored.slice(-2).map((m) => [m.flags, m.size]), [[["\\Flagged"], message.length], [[], message.length]]);
    transport.push(null);
    await running;
  });
  it("stopping: an idle session gets BYE at once; an APPEND committing gets its OK first and nothing pipelined runs", async () => {
    const idle = start();
    idle.transport.push("a1 LOGIN alice@example.org pw\r\n");
    await idle.transport.reply("a1");
    await idle.session.stop();
    // No input arrives: the session ends by itself, with BYE.
    await idle.running;
    assert.equal(idle.transport.output, "* BYE server shutting down\r\n");
    assert.ok(idle.transport.closed);

    let release!: () => void;
    const committing = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const appending = new Promise<void>((resolve) => (started = resolve));
    const held = new Proxy(temp.store as MailStore, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (property === "appendStaged" && typeof value === "function") {
          return async (...args: unknown[]) => {
            started();
            await committing;
            return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const { transport, session, running } = start(held);
    transport.push("a1 LOGIN alice@example.org pw\r\n");
    await transport.reply("a1");
    const inbox = await temp.store.getMailbox(account.id, "INBOX");
    const before = (await temp.store.listMessages(inbox!.id)).length;
    const message = "Subject: stop\r\n\r\ncommitting\r\n";
    transport.push(`a2 APPEND INBOX {${message.length}+}\r\n${message}\r\na3 NOOP\r\n`);
    await appending;
    const stopped = session.stop();
    release();
    await stopped;
    await running;
    assert.match(transport.output, /^a2 OK \[APPENDUID \d+ \d+\] APPEND completed\r\n\* BYE server shutting down\r\n$/, "the OK of what was stored, then BYE; a3 never runs");
    assert.equal((await temp.store.listMessages(inbox!.id)).length, before + 1);
  });
});
