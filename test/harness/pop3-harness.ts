// An in-process POP3 server for end-to-end tests: a real SQLite store in a temp dir with the
// domain example.org and accounts alice and bob (password "<name>-pass"), and two listeners on
// 127.0.0.1:0 sharing a self-signed certificate and one maildrop lock table: "pop3" (STLS) and
// "pop3s" (implicit TLS). stop() closes everything and removes the directory.
import { createServer, connect, type Server, type Socket } from "node:net";
import { connect as tlsConnect, TLSSocket } from "node:tls";
import { once } from "node:events";
import { Authenticator, AuthThrottle } from "../../src/auth/index.js";
import { Connection, TlsContextProvider } from "../../src/net/index.js";
import { silentLogger, type Logger } from "../../src/observability/log.js";
import { createPop3Server, createPop3SharedState, type Pop3Server } from "../../src/pop3/index.js";
import type { Account, Mailbox } from "../../src/store/index.js";
import type { SqliteStoreOptions } from "../../src/store/sqlite/sqlite-store.js";
import { CHEAP_HASH_PARAMS, cheapHash, openTempStore, type TempStore } from "./temp-store.js";

export interface Pop3Harness {
  temp: TempStore;
  ports: { pop3: number; pop3s: number };
  accounts: Record<"alice" | "bob", Account>;
  servers: Pop3Server[];
  inbox(account: Account): Promise<Mailbox>;
  /** Delivers raw bytes to the account's INBOX as SMTP delivery does (store.deliver). */
  deliver(account: Account, message: string | Buffer): Promise<void>;
  stop(): Promise<void>;
}

export interface Pop3HarnessOptions {
  /** Options of the store under test (a failing file layer, say). */
  store?: Omit<SqliteStoreOptions, "dataDir">;
  allowPlaintextAuth?: boolean;
  pop3Idle?: number;
  pop3UnauthenticatedIdle?: number;
  pop3CommandDeadline?: number;
  /** Where the servers log; silent by default. */
  log?: Logger;
}

export async function startPop3Harness(options: Pop3HarnessOptions = {}): Promise<Pop3Harness> {
  const temp = await openTempStore("mailroom-pop3-e2e-", options.store);
  const { store } = temp;
  await store.addDomain("example.org");
  const accounts = {
    alice: await store.createAccount({ address: "alice@example.org", passwordHash: await cheapHash("alice-pass") }),
    bob: await store.createAccount({ address: "bob@example.org", passwordHash: await cheapHash("bob-pass") }),
  };
  const tls = await TlsContextProvider.open({ certFile: null, keyFile: null, dataDir: temp.dataDir, hostname: "pop.example.org", minVersion: "TLSv1.2", log: silentLogger });
  const authenticator = new Authenticator({ accounts: store, throttle: new AuthThrottle(), log: silentLogger, hashParams: CHEAP_HASH_PARAMS, sleep: async () => {} });
  const shared = createPop3SharedState();
  const listeners: Server[] = [];
  const pop3Servers: Pop3Server[] = [];
  const connections = new Set<Connection>();
  const ports = { pop3: 0, pop3s: 0 };
  for (const protocol of ["pop3", "pop3s"] as const) {
    const implicit = protocol === "pop3s";
    const pop3 = createPop3Server({
      store,
      authenticator,
      tls,
      limits: {
        pop3LineLength: 255,
        pop3Idle: options.pop3Idle ?? 30_000,
        pop3UnauthenticatedIdle: options.pop3UnauthenticatedIdle ?? 30_000,
        pop3CommandDeadline: options.pop3CommandDeadline ?? 30_000,
        tlsHandshakeTimeout: 5_000,
      },
      allowPlaintextAuth: options.allowPlaintextAuth ?? false,
      hostname: "pop.example.org",
      log: options.log ?? silentLogger,
      implicitTls: implicit,
      shared,
    });
    pop3Servers.push(pop3);
    const server = createServer((socket: Socket) => {
      const raw = implicit ? new TLSSocket(socket, { isServer: true, secureContext: tls.current() }) : socket;
      const connection = new Connection(raw, { log: options.log ?? silentLogger, closeLingerMs: 200, tlsMode: implicit ? "implicit" : "starttls" });
      connections.add(connection);
      const run = async () => {
        if (raw instanceof TLSSocket) await once(raw, "secure");
        await pop3.accept(connection);
      };
      run()
        .catch(() => connection.destroy())
        .finally(() => connections.delete(connection));
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    ports[protocol] = address.port;
    listeners.push(server);
  }
  const inbox = async (account: Account) => {
    const mailbox = await store.getMailbox(account.id, "INBOX");
    if (mailbox === null) throw new Error("no INBOX");
    return mailbox;
  };
  return {
    temp,
    ports,
    accounts,
    servers: pop3Servers,
    inbox,
    async deliver(account, message) {
      await store.deliver({ source: typeof message === "string" ? Buffer.from(message, "latin1") : message, targets: [{ mailboxId: (await inbox(account)).id }] });
    },
    async stop() {
      for (const connection of connections) connection.destroy();
      await Promise.all(listeners.map((server) => new Promise((resolve) => server.close(resolve))));
      await temp.cleanup();
    },
  };
}

/** A raw POP3 client for byte-exact cases: send lines, read status lines and multi-line bodies. */
export class RawPop3Client {
  #buffer = Buffer.alloc(0);
  #waiter: (() => void) | null = null;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.#wake();
    });
    socket.on("error", () => undefined);
  }

  static async open(port: number, options: { tls?: boolean } = {}): Promise<RawPop3Client> {
    const socket = options.tls ? tlsConnect({ port, host: "127.0.0.1", rejectUnauthorized: false }) : connect(port, "127.0.0.1");
    await once(socket, options.tls ? "secureConnect" : "connect");
    return new RawPop3Client(socket);
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** The next CRLF-terminated line, without the CRLF; null once the server closed. */
  async line(): Promise<string | null> {
    for (;;) {
      const end = this.#buffer.indexOf("\r\n");
      if (end >= 0) {
        const line = this.#buffer.subarray(0, end).toString("latin1");
        this.#buffer = this.#buffer.subarray(end + 2);
        return line;
      }
      if (this.closed) return null;
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }

  /** The body of a multi-line response up to ".\r\n", un-stuffed, as raw bytes. */
  async body(): Promise<Buffer> {
    for (;;) {
      const at = this.#buffer[0] === 0x2e && this.#buffer[1] === 0x0d && this.#buffer[2] === 0x0a ? 0 : this.#buffer.indexOf("\r\n.\r\n");
      if (at >= 0) {
        const raw = at === 0 ? Buffer.alloc(0) : this.#buffer.subarray(0, at + 2);
        this.#buffer = this.#buffer.subarray(at === 0 ? 3 : at + 5);
        return Buffer.from(raw.toString("latin1").replace(/(^|\r\n)\./g, "$1"), "latin1");
      }
      if (this.closed) throw new Error("connection closed inside a multi-line response");
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }

  async command(line: string): Promise<string | null> {
    this.write(`${line}\r\n`);
    return this.line();
  }

  close(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.();
  }
}
