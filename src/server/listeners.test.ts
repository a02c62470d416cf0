import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { connect as connectTcp, createServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { connect as connectTls, type ConnectionOptions } from "node:tls";
import type { ListenerConfig } from "../config/index.js";
import { LineReader, TlsContextProvider, type Connection, type SessionHandler } from "../net/index.js";
import { createMemoryLogger, silentLogger } from "../observability/log.js";
import { bindFailureMessage, startListeners, type ListenerSet, type StartListenersOptions } from "./listeners.js";

let dir = "";
let provider: TlsContextProvider;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mailroom-listeners-"));
  provider = await TlsContextProvider.open({ certFile: null, keyFile: null, dataDir: dir, hostname: "localhost", minVersion: "TLSv1.2", log: silentLogger });
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A tiny line-echo protocol: "220 ready", echoes lines, STARTTLS, QUIT; says its own words on refuse/shutdown. */
function echoHandler(settings: { idleMs?: number; cooperativeShutdown?: boolean; onDiscard?: (bytes: number) => void } = {}): SessionHandler {
  return {
    async accept(connection: Connection) {
      const reader = new LineReader({ maxLineLength: 200 });
      connection.setIdleDeadline(settings.idleMs ?? 10_000, () => {
        void connection.write("421 idle\r\n").then(() => connection.close(), () => connection.destroy());
      });
      await connection.write(`220 ready${connection.isTls ? " tls" : ""}\r\n`);
      for await (const chunk of connection) {
        reader.push(chunk);
        for (let item = reader.next(); item !== null; item = reader.next()) {
          if (item.kind !== "line") continue;
          const text = item.line.toString();
          if (text === "QUIT") {
            await connection.write("221 bye\r\n");
            return;
          }
          if (text === "STARTTLS") {
            settings.onDiscard?.(reader.discardBuffered());
            await connection.upgradeToTls(provider.current(), 5000, "220 go\r\n");
            continue;
          }
          await connection.write(`${text}\r\n`);
        }
      }
    },
    async refuse(connection, reason) {
      await connection.write(`421 ${reason}\r\n`);
    },
    ...(settings.cooperativeShutdown === false
      ? { shutdown: () => undefined }
      : {
          async shutdown(connection: Connection) {
            await connection.write("421 shutting down\r\n");
            await connection.close();
          },
        }),
  };
}

function listener(overrides: Partial<ListenerConfig> = {}): ListenerConfig {
  return { protocol: "smtp", port: 0, address: "127.0.0.1", tls: "starttls", ...overrides };
}

async function start(listeners: ListenerConfig[], handler: SessionHandler, extra: Partial<StartListenersOptions> = {}): Promise<ListenerSet> {
  return startListeners({
    listeners,
    tls: provider,
    limits: { connectionsPerIp: 20, connectionsTotal: 100, tlsHandshakeTimeout: 2000 },
    log: silentLogger,
    handlerFor: () => handler,
    portFallbackOffset: 0,
    closeLingerMs: 500,
    ...extra,
  });
}

/** Reads CRLF lines from a socket, one at a time. */
function lineSource(socket: Socket): () => Promise<string | null> {
  const reader = new LineReader({ maxLineLength: 1000 });
  let ended = false;
  const pending: ((line: string | null) => void)[] = [];
  const pump = () => {
    while (pending.length > 0) {
      const item = reader.next();
      if (item === null) break;
      if (item.kind === "line") pending.shift()?.(item.line.toString());
    }
    if (ended) while (pending.length > 0) pending.shift()?.(null);
  };
  socket.on("data", (chunk: Buffer) => {
    reader.push(chunk);
    pump();
  });
  socket.on("close", () => {
    ended = true;
    pump();
  });
  return () =>
    new Promise((resolve) => {
      pending.push(resolve);
      pump();
    });
}

async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 2000) assert.fail("condition not reached within 2s");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function connectPlain(port: number): Promise<{ socket: Socket; nextLine: () => Promise<string | null> }> {
  const socket = connectTcp({ host: "127.0.0.1", port });
  const nextLine = lineSource(socket);
  await once(socket, "connect");
  return { socket, nextLine };
}

test("plain listener: greeting, echo, and the session's end closes the connection", async () => {
  const set = await start([listener({ tls: "none" })], echoHandler());
  try {
    assert.equal(set.bound.length, 1);
    const { socket, nextLine } = await connectPlain(set.bound[0]?.port ?? 0);
    assert.equal(await nextLine(), "220 ready");
    socket.write("hello\r\n");
    assert.equal(await nextLine(), "hello");
    assert.equal(set.connectionCount(), 1);
    socket.write("QUIT\r\n");
    assert.equal(await nextLine(), "221 bye");
    assert.equal(await nextLine(), null, "the listener closes the connection when accept returns");
  } finally {
    await set.drain(100);
  }
  assert.equal(set.connectionCount(), 0);
});

test("implicit TLS listener: the handler gets an encrypted connection", async () => {
  const set = await start([listener({ protocol: "imaps", tls: "implicit" })], echoHandler());
  try {
    const socket = connectTls({ host: "127.0.0.1", port: set.bound[0]?.port ?? 0, rejectUnauthorized: false });
    const nextLine = lineSource(socket);
    await once(socket, "secureConnect");
    const served = socket.getPeerX509Certificate()?.fingerprint256;
    assert.ok(provider.certificates.some((certificate) => certificate.fingerprint256 === served));
    assert.equal(await nextLine(), "220 ready tls");
    socket.write("secret\r\n");
    assert.equal(await nextLine(), "secret");
    socket.destroy();
  } finally {
    await set.drain(100);
  }
});

test("a client that never completes the implicit TLS handshake is dropped after the timeout", async () => {
  const set = await start([listener({ protocol: "pop3s", tls: "implicit" })], echoHandler(), {
    limits: { connectionsPerIp: 20, connectionsTotal: 100, tlsHandshakeTimeout: 150 },
  });
  try {
    const { socket } = await connectPlain(set.bound[0]?.port ?? 0);
    socket.write("USER plaintext\r\n");
    await once(socket, "close");
    assert.equal(set.connectionCount(), 0);
  } finally {
    await set.drain(100);
  }
});

test("STARTTLS: bytes pipelined after the command are discarded, the session continues over TLS", async () => {
  let discarded = -1;
  const set = await start([listener()], echoHandler({ onDiscard: (bytes) => (discarded = bytes) }));
  try {
    const { socket, nextLine } = await connectPlain(set.bound[0]?.port ?? 0);
    assert.equal(await nextLine(), "220 ready");
    socket.write("STARTTLS\r\nINJECTED\r\n");
    assert.equal(await nextLine(), "220 go");
    socket.removeAllListeners("data");
    const secure = connectTls({ socket, rejectUnauthorized: false });
    const nextSecureLine = lineSource(secure);
    await once(secure, "secureConnect");
    secure.write("PING\r\n");
    assert.equal(await nextSecureLine(), "PING", "the injected plaintext line was never executed");
    assert.equal(discarded, "INJECTED\r\n".length);
    secure.destroy();
  } finally {
    await set.drain(100);
  }
});

test("over the per-IP limit the protocol's refusal is sent, then the slot frees on close", async () => {
  const set = await start([listener({ tls: "none" })], echoHandler(), { limits: { connectionsPerIp: 1, connectionsTotal: 100, tlsHandshakeTimeout: 2000 } });
  try {
    const port = set.bound[0]?.port ?? 0;
    const first = await connectPlain(port);
    assert.equal(await first.nextLine(), "220 ready");
    const second = await connectPlain(port);
    assert.equal(await second.nextLine(), "421 too-many-from-ip");
    assert.equal(await second.nextLine(), null);
    first.socket.write("QUIT\r\n");
    assert.equal(await first.nextLine(), "221 bye");
    assert.equal(await first.nextLine(), null);
    await until(() => set.connectionCount() === 0);
    const third = await connectPlain(port);
    assert.equal(await third.nextLine(), "220 ready");
    third.socket.destroy();
  } finally {
    await set.drain(100);
  }
});

test("the idle deadline closes a silent connection", async () => {
  const set = await start([listener({ tls: "none" })], echoHandler({ idleMs: 150 }));
  try {
    const { nextLine } = await connectPlain(set.bound[0]?.port ?? 0);
    assert.equal(await nextLine(), "220 ready");
    const started = Date.now();
    assert.equal(await nextLine(), "421 idle");
    assert.equal(await nextLine(), null);
    assert.ok(Date.now() - started >= 100);
  } finally {
    await set.drain(100);
  }
});

test("drain sends the protocol's shutdown words, then closes; uncooperative sessions are destroyed after the grace", async () => {
  const polite = await start([listener({ tls: "none" })], echoHandler());
  const client = await connectPlain(polite.bound[0]?.port ?? 0);
  assert.equal(await client.nextLine(), "220 ready");
  await polite.drain(2000);
  assert.equal(await client.nextLine(), "421 shutting down");
  assert.equal(await client.nextLine(), null);
  assert.equal(polite.connectionCount(), 0);
  await assert.rejects(connectPlain(polite.bound[0]?.port ?? 0), "no longer accepting");

  const stubborn = await start([listener({ tls: "none" })], echoHandler({ cooperativeShutdown: false }));
  const other = await connectPlain(stubborn.bound[0]?.port ?? 0);
  assert.equal(await other.nextLine(), "220 ready");
  const started = Date.now();
  await stubborn.drain(200);
  assert.ok(Date.now() - started >= 150, "waited for the grace period");
  assert.equal(await other.nextLine(), null);
  assert.equal(stubborn.connectionCount(), 0);
});

test("a busy port falls back to port + offset and reports both", async () => {
  const low = createServer();
  const high = createServer();
  low.listen(0, "127.0.0.1");
  high.listen(0, "127.0.0.1");
  await Promise.all([once(low, "listening"), once(high, "listening")]);
  const ports = [(low.address() as AddressInfo).port, (high.address() as AddressInfo).port].sort((a, b) => a - b) as [number, number];
  const [busy, free] = ports;
  // Keep the lower port occupied, release the higher one for the fallback.
  const busyServer = (low.address() as AddressInfo).port === busy ? low : high;
  (busyServer === low ? high : low).close();
  try {
    const set = await start([listener({ port: busy, tls: "none" })], echoHandler(), { portFallbackOffset: free - busy });
    try {
      assert.deepEqual(set.bound, [
        { protocol: "smtp", address: "127.0.0.1", port: free, tls: "none", requestedPort: busy, endpoints: [`127.0.0.1:${free}`], movedBecause: "EADDRINUSE" },
      ]);
      const { nextLine } = await connectPlain(free);
      assert.equal(await nextLine(), "220 ready");
    } finally {
      await set.drain(100);
    }
  } finally {
    busyServer.close();
  }
});

test("without the opt-in offset a refused port fails the start, saying which port, why and how to fix it", async () => {
  const busy = createServer();
  busy.listen(0, "127.0.0.1");
  await once(busy, "listening");
  const port = (busy.address() as AddressInfo).port;
  try {
    const other = listener({ protocol: "imap", port: 0, tls: "none" });
    await assert.rejects(start([other, listener({ port, tls: "none" })], echoHandler()), (error: Error) => {
      assert.equal(error.name, "ListenerBindError");
      assert.match(error.message, new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${port} for smtp: the port is already in use \\(EADDRINUSE\\)`));
      assert.match(error.message, /another port or address in \[\[listeners\]\], or set server\.port_fallback_offset/);
      return true;
    });
  } finally {
    busy.close();
  }
});

test("the EACCES message names the capability and the ways to get it", () => {
  const message = bindFailureMessage({ protocol: "smtp", address: "::" }, 25, "EACCES");
  assert.match(message, /^cannot listen on \[::\]:25 for smtp: permission denied \(EACCES\)/);
  for (const fix of ["root", "CAP_NET_BIND_SERVICE", "AmbientCapabilities", "setcap", "1024 or above", "server.port_fallback_offset"]) assert.ok(message.includes(fix), fix);
});

test("a protocol without a handler is skipped, not bound", async () => {
  const handler = echoHandler();
  const set = await startListeners({
    listeners: [listener({ protocol: "imap" }), listener({ protocol: "pop3" })],
    tls: provider,
    limits: { connectionsPerIp: 20, connectionsTotal: 100, tlsHandshakeTimeout: 2000 },
    log: silentLogger,
    handlerFor: (protocol) => (protocol === "pop3" ? handler : null),
    portFallbackOffset: 0,
  });
  try {
    assert.deepEqual(set.bound.map((b) => b.protocol), ["pop3"]);
    assert.deepEqual(set.skipped.map((s) => s.protocol), ["imap"]);
  } finally {
    await set.drain(100);
  }
});

test("a session that throws is logged and destroyed; the listener keeps serving", async () => {
  const log = createMemoryLogger();
  let calls = 0;
  const set = await start(
    [listener({ tls: "none" })],
    {
      accept: async (connection) => {
        calls++;
        await connection.write("220 about to fail\r\n");
        throw new Error("protocol bug");
      },
    },
    { log },
  );
  try {
    for (let i = 0; i < 2; i++) {
      const { nextLine } = await connectPlain(set.bound[0]?.port ?? 0);
      assert.equal(await nextLine(), "220 about to fail");
      assert.equal(await nextLine(), null);
    }
    assert.equal(calls, 2);
    assert.ok(log.records.some((r) => r.event === "session.failed" && r.level === "error" && typeof r["conn"] === "string"));
  } finally {
    await set.drain(100);
  }
});

/** Greets with the client address the session sees, then closes. */
const addressHandler: SessionHandler = {
  async accept(connection) {
    await connection.write(`hello ${connection.remoteAddress}\r\n`);
    await connection.close();
  },
  async refuse(connection, reason) {
    await connection.write(`421 ${reason}\r\n`);
  },
};

async function greetingFrom(host: string, port: number): Promise<string | null> {
  const socket = connectTcp({ host, port });
  const nextLine = lineSource(socket);
  const line = await nextLine();
  socket.destroy();
  return line;
}

test('"::" takes IPv6 and IPv4 on one socket; an IPv4 client is seen as IPv4, not ::ffff:a.b.c.d', async () => {
  const set = await start([listener({ address: "::", tls: "none" })], addressHandler);
  try {
    const { port, endpoints } = set.bound[0]!;
    assert.deepEqual(endpoints, [`[::]:${port}`], "one dual-stack socket");
    assert.equal(await greetingFrom("::1", port), "hello ::1");
    assert.equal(await greetingFrom("127.0.0.1", port), "hello 127.0.0.1");
  } finally {
    await set.drain(100);
  }
});

test('"::" where the OS keeps IPv6 sockets IPv6-only: a second socket on 0.0.0.0, same port', async () => {
  const set = await start([listener({ address: "::", tls: "none" })], addressHandler, { dualStack: false });
  try {
    const { port, endpoints } = set.bound[0]!;
    assert.deepEqual(endpoints, [`[::]:${port}`, `0.0.0.0:${port}`]);
    assert.equal(await greetingFrom("::1", port), "hello ::1");
    assert.equal(await greetingFrom("127.0.0.1", port), "hello 127.0.0.1");
  } finally {
    await set.drain(100);
  }
  assert.equal(set.connectionCount(), 0);
});

test("an IPv4 client on a dual-stack socket counts against its IPv4 address, apart from ::1", async () => {
  const holdOpen: SessionHandler = {
    async accept(connection) {
      await connection.write(`hello ${connection.remoteAddress}\r\n`);
      for await (const chunk of connection) void chunk;
    },
    refuse: addressHandler.refuse!,
  };
  const set = await start([listener({ address: "::", tls: "none" })], holdOpen, { limits: { connectionsPerIp: 1, connectionsTotal: 100, tlsHandshakeTimeout: 2000 } });
  try {
    const port = set.bound[0]!.port;
    const v4 = connectTcp({ host: "127.0.0.1", port });
    const v4Line = lineSource(v4);
    assert.equal(await v4Line(), "hello 127.0.0.1");
    assert.equal(await greetingFrom("127.0.0.1", port), "421 too-many-from-ip", "a second IPv4 connection is over the per-address limit");
    const v6 = connectTcp({ host: "::1", port });
    assert.equal(await lineSource(v6)(), "hello ::1", "::1 is another client");
    v4.destroy();
    v6.destroy();
  } finally {
    await set.drain(100);
  }
});

test("a failed TLS handshake is logged at info with the reason, the client and the listener", async () => {
  const log = createMemoryLogger();
  const set = await start([listener({ protocol: "imaps", tls: "implicit" }), listener({ protocol: "submission" })], echoHandler(), {
    log,
    // Long enough for python to start and load its CA store on a loaded machine.
    limits: { connectionsPerIp: 20, connectionsTotal: 100, tlsHandshakeTimeout: 2000 },
  });
  const [imaps, submission] = set.bound.map((b) => b.port) as [number, number];
  const failures = () => log.records.filter((r) => r.event === "tls.handshake_failed");
  const nextFailure = async (count: number) => {
    for (let waited = 0; failures().length < count; waited += 20) {
      if (waited > 10_000) assert.fail(`handshake failure ${count} not logged within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return failures()[count - 1]!;
  };
  const tlsAttempt = (options: ConnectionOptions) =>
    new Promise<void>((resolve) => {
      const socket = connectTls({ host: "127.0.0.1", port: imaps, rejectUnauthorized: false, ...options });
      socket.on("error", () => resolve());
      socket.on("secureConnect", () => assert.fail("the handshake should have failed"));
    });
  try {
    await tlsAttempt({ ciphers: "CAMELLIA128-SHA", maxVersion: "TLSv1.2" });
    const cipher = await nextFailure(1);
    assert.equal(cipher.level, "info");
    assert.deepEqual([cipher["reason"], cipher["detail"], cipher["remote"], cipher["protocol"], cipher["port"]], ["cipher-mismatch", "no shared cipher", "127.0.0.1", "imaps", imaps]);

    // A TLS 1.1 client against tls.min_version = TLSv1.2.
    await tlsAttempt({ minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" });
    assert.deepEqual([(await nextFailure(2))["reason"], (await nextFailure(2))["detail"]], ["protocol-mismatch", "unsupported protocol"]);

    // A client that checks certificates (python's default context) refuses the self-signed one.
    const python = await runPython(
      `import ssl, socket\ns = socket.create_connection(("127.0.0.1", ${imaps}))\ntry:\n    ssl.create_default_context().wrap_socket(s, server_hostname="localhost")\nexcept ssl.SSLCertVerificationError as e:\n    print("refused", e.verify_message)`,
    );
    assert.match(python, /^refused self.signed certificate/);
    assert.deepEqual([(await nextFailure(3))["reason"], (await nextFailure(3))["detail"]], ["client-alert", "tlsv1 alert unknown ca"]);

    const plain = connectTcp({ host: "127.0.0.1", port: imaps });
    plain.write("a1 LOGIN user password\r\n");
    assert.deepEqual([(await nextFailure(4))["reason"], (await nextFailure(4))["detail"]], ["not-tls", "wrong version number"]);

    const silent = connectTcp({ host: "127.0.0.1", port: imaps });
    assert.deepEqual([(await nextFailure(5))["reason"], (await nextFailure(5))["detail"]], ["timeout", "2000 ms"]);
    silent.destroy();

    // The same after STARTTLS on a plaintext port.
    const { socket, nextLine } = await connectPlain(submission);
    assert.equal(await nextLine(), "220 ready");
    socket.write("STARTTLS\r\n");
    assert.equal(await nextLine(), "220 go");
    socket.removeAllListeners("data");
    connectTls({ socket, ciphers: "CAMELLIA128-SHA", maxVersion: "TLSv1.2", rejectUnauthorized: false }).on("error", () => undefined);
    const starttls = await nextFailure(6);
    assert.deepEqual([starttls["reason"], starttls["protocol"], starttls["port"]], ["cipher-mismatch", "submission", submission]);
  } finally {
    await set.drain(100);
  }
});

function runPython(source: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("python3", ["-c", source], { timeout: 20_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)));
  });
}
