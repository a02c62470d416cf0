import assert from "node:assert/strict";
import { test } from "node:test";
import { Authenticator, AuthThrottle } from "../auth/index.js";
import { silentLogger } from "../observability/log.js";
import { CHEAP_HASH_PARAMS, cheapHash, openTempStore } from "../../test/harness/temp-store.js";
import { ManualTimers } from "../../test/harness/manual-timers.js";
import { ManageSieveSession } from "./session.js";
import type { ManageSieveSessionOptions } from "./types.js";

class Transport {
  readonly written: Buffer[] = [];
  closed = false;
  async write(bytes: Buffer): Promise<void> {
    if (this.closed) throw new Error("closed");
    this.written.push(Buffer.from(bytes));
  }
  async startTls(reply: Buffer): Promise<void> {
    this.written.push(Buffer.from(reply));
  }
  close(): void {
    this.closed = true;
  }
  take(): string {
    const text = Buffer.concat(this.written).toString("utf8");
    this.written.length = 0;
    return text;
  }
}

const LIMITS = {
  lineLength: 8192,
  maxQuotedBytes: 1024,
  maxLiteralBytes: 4096,
  idle: 600_000,
  unauthenticatedIdle: 60_000,
  commandDeadline: 30_000,
  maxAuthFailures: 2,
  maxErrors: 5,
  maxScriptBytes: 200,
  maxScripts: 2,
  maxNesting: 32,
  maxRedirects: 4,
};

const PLAIN = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`).toString("base64");

async function fixture(overrides: Partial<ManageSieveSessionOptions> = {}) {
  const temp = await openTempStore("mailroom-managesieve-");
  const { store } = temp;
  await store.addDomain("example.org");
  const alice = await store.createAccount({ address: "alice@example.org", passwordHash: await cheapHash("alice-pass") });
  const authenticator = new Authenticator({ accounts: store, throttle: new AuthThrottle(), log: silentLogger, hashParams: CHEAP_HASH_PARAMS, sleep: async () => {} });
  const timers = new ManualTimers();
  const transport = new Transport();
  const session = new ManageSieveSession({
    hostname: "mx.example.org",
    remoteAddress: "192.0.2.1",
    id: "t1",
    transport,
    scripts: store,
    authenticator,
    limits: LIMITS,
    timers,
    log: silentLogger,
    startTlsAvailable: true,
    implicitTls: false,
    allowPlaintextAuth: false,
    ...overrides,
  });
  await session.start();
  const greeting = transport.take();
  const send = async (text: string): Promise<string> => {
    await session.receive(Buffer.from(text, "utf8"));
    return transport.take();
  };
  return { store, alice, session, transport, timers, greeting, send, cleanup: () => temp.cleanup() };
}

test("greeting, STARTTLS with capabilities again, no password before TLS", async () => {
  const f = await fixture();
  try {
    assert.match(f.greeting, /^"IMPLEMENTATION" "Mailroom"\r\n"SASL" ""\r\n"SIEVE" "fileinto [^"]*vacation[^"]*"\r\n"STARTTLS"\r\n"MAXREDIRECTS" "4"\r\n"UNAUTHENTICATE"\r\n"VERSION" "1.0"\r\nOK /);
    assert.match(await f.send(`AUTHENTICATE "PLAIN" "${PLAIN("alice@example.org", "alice-pass")}"\r\n`), /^NO \(ENCRYPT-NEEDED\)/);
    const afterTls = await f.send("STARTTLS\r\nNOOP\r\n");
    // The NOOP pipelined in plaintext behind STARTTLS is dropped (CVE-2011-0411).
    assert.match(afterTls, /^OK "Begin TLS negotiation now"\r\n"IMPLEMENTATION" "Mailroom"\r\n"SASL" "PLAIN LOGIN"\r\n/);
    assert.doesNotMatch(afterTls, /"STARTTLS"/);
    assert.equal((afterTls.match(/^OK/gm) ?? []).length, 2);
    assert.match(await f.send("STARTTLS\r\n"), /^NO "TLS is already active"/);
  } finally {
    await f.cleanup();
  }
});

test("script commands and their response codes", async () => {
  const f = await fixture({ implicitTls: true, startTlsAvailable: false });
  try {
    assert.match(await f.send("LISTSCRIPTS\r\n"), /^NO "LISTSCRIPTS needs AUTHENTICATE first"/);
    // SASL with a continuation: the empty challenge, then the response as a literal.
    assert.equal(await f.send('AUTHENTICATE "PLAIN"\r\n'), '""\r\n');
    const response = PLAIN("alice@example.org", "alice-pass");
    assert.equal(await f.send(`{${response.length}+}\r\n${response}\r\n`), 'OK "Logged in"\r\n');
    assert.match(await f.send("CAPABILITY\r\n"), /"OWNER" "alice@example.org"\r\n/);
    assert.match(await f.send('HAVESPACE "main" 100\r\n'), /^OK/);
    assert.match(await f.send('HAVESPACE "main" 201\r\n'), /^NO \(QUOTA\/MAXSIZE\)/);
    assert.match(await f.send('PUTSCRIPT "main" {25+}\r\nrequire "fileinto";\nkeep;\r\n'), /^OK/);
    assert.match(await f.send('PUTSCRIPT "bad" {28+}\r\nif true {\n  fileinto "x";\n}\r\n'), /^NO "line 2:3: 'fileinto' needs require \\"fileinto\\""/);
    assert.match(await f.send('CHECKSCRIPT "keep;"\r\n'), /^OK/);
    assert.match(await f.send('CHECKSCRIPT "keep"\r\n'), /^NO "line 1:5: /);
    assert.match(await f.send(`PUTSCRIPT "big" {201+}\r\n${"#".repeat(200)}\n\r\n`), /^NO \(QUOTA\/MAXSIZE\)/);
    assert.match(await f.send('PUTSCRIPT "second" "stop;"\r\n'), /^OK/);
    assert.match(await f.send('PUTSCRIPT "third" "stop;"\r\n'), /^NO \(QUOTA\/MAXSCRIPTS\)/);
    assert.match(await f.send('HAVESPACE "third" 10\r\n'), /^NO \(QUOTA\/MAXSCRIPTS\)/);
    assert.match(await f.send('SETACTIVE "none"\r\n'), /^NO \(NONEXISTENT\)/);
    assert.match(await f.send('SETACTIVE "main"\r\n'), /^OK/);
    assert.equal(await f.send("LISTSCRIPTS\r\n"), '"main" ACTIVE\r\n"second"\r\nOK "Listscripts completed"\r\n');
    assert.equal(await f.send('GETSCRIPT "main"\r\n'), '{25}\r\nrequire "fileinto";\nkeep;\r\nOK "Getscript completed"\r\n');
    assert.match(await f.send('GETSCRIPT "gone"\r\n'), /^NO \(NONEXISTENT\)/);
    assert.match(await f.send('DELETESCRIPT "main"\r\n'), /^NO \(ACTIVE\)/);
    assert.match(await f.send('RENAMESCRIPT "main" "second"\r\n'), /^NO \(ALREADYEXISTS\)/);
    assert.match(await f.send('RENAMESCRIPT "nope" "x"\r\n'), /^NO \(NONEXISTENT\)/);
    assert.match(await f.send('RENAMESCRIPT "main" "renamed"\r\n'), /^OK/);
    assert.equal((await f.store.getActiveSieveScript(f.alice.id))?.name, "renamed", "the active flag follows the rename");
    assert.match(await f.send('SETACTIVE ""\r\n'), /^OK/);
    assert.equal(await f.store.getActiveSieveScript(f.alice.id), null);
    assert.match(await f.send('DELETESCRIPT "renamed"\r\n'), /^OK/);
    assert.match(await f.send('PUTSCRIPT "bad\u0007name" "keep;"\r\n'), /^NO "script name contains a control character"/);
    assert.equal(await f.send('NOOP "tag1"\r\n'), 'OK (TAG "tag1") "Done"\r\n');
    assert.match(await f.send("UNAUTHENTICATE\r\n"), /^OK/);
    assert.match(await f.send("LISTSCRIPTS\r\n"), /^NO/);
    assert.equal(await f.send("LOGOUT\r\n"), 'OK "Logout completed"\r\n');
    assert.equal(f.transport.closed, true);
  } finally {
    await f.cleanup();
  }
});

test("failed logins and refused commands end the connection with BYE; idle and command deadlines", async () => {
  const f = await fixture({ implicitTls: true });
  try {
    assert.match(await f.send(`AUTHENTICATE "PLAIN" "${PLAIN("alice@example.org", "wrong")}"\r\n`), /^NO "authentication failed"/);
    assert.match(await f.send('AUTHENTICATE "PLAIN"\r\n"*"\r\n'), /^""\r\nNO "authentication cancelled"\r\nBYE "too many failed authentication attempts"\r\n$/);
    assert.equal(f.transport.closed, true);
  } finally {
    await f.cleanup();
  }
  const g = await fixture();
  try {
    const out = await g.send("FOO\r\nBAR\r\nNOOP (\r\nPUTSCRIPT\r\nX\r\nNOOP\r\n");
    assert.equal((out.match(/^NO /gm) ?? []).length, 5);
    assert.match(out, /BYE "too many errors"\r\n$/);
    assert.equal(g.transport.closed, true);
  } finally {
    await g.cleanup();
  }
  const h = await fixture();
  try {
    await h.send("PUTSCRIPT {10+}\r\nabc");
    h.timers.advance(30_000);
    assert.match(h.transport.take(), /^BYE "command not finished in time"/);
  } finally {
    await h.cleanup();
  }
  const i = await fixture();
  try {
    i.timers.advance(60_000);
    assert.match(i.transport.take(), /^BYE "disconnected for inactivity"/);
  } finally {
    await i.cleanup();
  }
});
