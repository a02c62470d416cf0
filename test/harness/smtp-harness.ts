// An in-process SMTP server for end-to-end tests: a real SQLite store in a temp dir with the
// domain example.org and accounts alice, bob and carol (password "<name>-pass"), and three
// listeners on 127.0.0.1:0 — mx (port 25 role, STARTTLS), submission (587 role, STARTTLS) and
// submissions (465 role, implicit TLS) — sharing a self-signed certificate. stop() closes
// everything and removes the directory.
import { createServer, type Server, type Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { once } from "node:events";
import { Authenticator, AuthThrottle } from "../../src/auth/index.js";
import { Connection, TlsContextProvider } from "../../src/net/index.js";
import { silentLogger } from "../../src/observability/log.js";
import { createSmtpServer, type InboundVerifier, type SessionLimits, type SmtpRole } from "../../src/smtp/index.js";
import type { Account } from "../../src/store/index.js";
import { CHEAP_HASH_PARAMS, cheapHash, openTempStore, type TempStore } from "./temp-store.js";

export const E2E_LIMITS: SessionLimits & { tlsHandshakeTimeout: number } = {
  smtpLineLength: 512,
  smtpTextLineLength: 1000,
  maxMessageSize: 64 * 1024,
  maxRecipients: 100,
  maxSmtpErrors: 10,
  smtpIdle: 30_000,
  smtpCommandDeadline: 30_000,
  smtpTransactionDeadline: 60_000,
  tlsHandshakeTimeout: 5_000,
};

export interface SmtpHarness {
  temp: TempStore;
  ports: Record<SmtpRole, number>;
  accounts: Record<"alice" | "bob" | "carol", Account>;
  stop(): Promise<void>;
}

export interface SmtpHarnessOptions {
  limits?: Partial<SessionLimits>;
  verifier?: InboundVerifier | null;
}

export async function startSmtpHarness(options: SmtpHarnessOptions = {}): Promise<SmtpHarness> {
  const temp = await openTempStore("mailroom-smtp-e2e-");
  const { store } = temp;
  await store.addDomain("example.org");
  const accounts = {
    alice: await store.createAccount({ address: "alice@example.org", passwordHash: await cheapHash("alice-pass") }),
    bob: await store.createAccount({ address: "bob@example.org", passwordHash: await cheapHash("bob-pass") }),
    carol: await store.createAccount({ address: "carol@example.org", passwordHash: await cheapHash("carol-pass") }),
  };
  const tls = await TlsContextProvider.open({ certFile: null, keyFile: null, dataDir: temp.dataDir, hostname: "mx.example.org", minVersion: "TLSv1.2", log: silentLogger });
  const authenticator = new Authenticator({ accounts: store, throttle: new AuthThrottle(), log: silentLogger, hashParams: CHEAP_HASH_PARAMS, sleep: async () => {} });
  const limits = { ...E2E_LIMITS, ...options.limits };
  const servers: Server[] = [];
  const connections = new Set<Connection>();
  const ports = {} as Record<SmtpRole, number>;
  for (const role of ["mx", "submission", "submissions"] as const) {
    const smtp = createSmtpServer({ role, store, accounts: store, queue: store, authenticator, verifier: options.verifier ?? null, limits, tls, hostname: "mx.example.org", log: silentLogger });
    const server = createServer((socket: Socket) => {
      const raw = role === "submissions" ? new TLSSocket(socket, { isServer: true, secureContext: tls.current() }) : socket;
      const connection = new Connection(raw, { log: silentLogger, closeLingerMs: 200 });
      connections.add(connection);
      const run = async () => {
        if (raw instanceof TLSSocket) await once(raw, "secure");
        await smtp.accept(connection);
      };
      run().catch(() => connection.destroy()).finally(() => connections.delete(connection));
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    ports[role] = address.port;
    servers.push(server);
  }
  return {
    temp,
    ports,
    accounts,
    async stop() {
      for (const connection of connections) connection.destroy();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
      await temp.cleanup();
    },
  };
}

/** Every message of an account's mailbox, as text, with its stored metadata. */
export async function mailboxMessages(harness: SmtpHarness, account: Account, name = "INBOX"): Promise<{ text: string; blobId: string; prefixLength: number }[]> {
  const { store } = harness.temp;
  const mailbox = await store.getMailbox(account.id, name);
  if (mailbox === null) throw new Error(`no mailbox ${name}`);
  const summaries = await store.listMessages(mailbox.id);
  const messages = await store.getMessages(mailbox.id, summaries.map((s) => s.uid));
  const out = [];
  for (const message of messages) {
    const parts: Buffer[] = [];
    for await (const chunk of store.openMessage(message)) parts.push(chunk as Buffer);
    out.push({ text: Buffer.concat(parts).toString("utf8"), blobId: message.blobId, prefixLength: message.prefixLength });
  }
  return out;
}
