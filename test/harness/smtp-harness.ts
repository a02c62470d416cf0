// An in-process SMTP server for end-to-end tests: a real SQLite store in a temp dir with the
// domain example.org and accounts alice, bob and carol (password "<name>-pass"), and three
// listeners on 127.0.0.1:0 — mx (port 25 role, STARTTLS), submission (587 role, STARTTLS) and
// submissions (465 role, implicit TLS) — sharing a self-signed certificate. The listeners are the
// production framework (server/listeners.ts: connection limits, implicit TLS, drain), so refusal
// and shutdown run as they do in `mailroom serve`. stop() closes everything and removes the dir.
import { Authenticator, AuthThrottle, type AuthThrottleOptions } from "../../src/auth/index.js";
import type { ListenerConfig, ListenerProtocol } from "../../src/config/index.js";
import { TlsContextProvider } from "../../src/net/index.js";
import { silentLogger, type Logger } from "../../src/observability/log.js";
import { startListeners, type ListenerSet } from "../../src/server/listeners.js";
import { createSmtpServer, type InboundVerifier, type SessionLimits, type SmtpRole } from "../../src/smtp/index.js";
import type { Account } from "../../src/store/index.js";
import type { SqliteStoreOptions } from "../../src/store/sqlite/sqlite-store.js";
import { CHEAP_HASH_PARAMS, cheapHash, openTempStore, type TempStore } from "./temp-store.js";
import { createBounceSink, createDeliveryReporter } from "../../src/queue/index.js";
import { createQuotaService } from "../../src/delivery/quota-warning.js";

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
  listeners: ListenerSet;
  stop(): Promise<void>;
}

export interface SmtpHarnessOptions {
  /** Options of the store under test (a failing file layer, say). */
  store?: Omit<SqliteStoreOptions, "dataDir">;
  limits?: Partial<SessionLimits>;
  /** The MX role's sender authentication: a fake, or one built over the harness's own store. */
  verifier?: InboundVerifier | ((store: TempStore["store"]) => InboundVerifier) | null;
  /** Listener admission limits (server/listeners.ts); generous by default. */
  connections?: { perIp?: number; total?: number };
  /** The shared AUTH throttle's settings; its defaults otherwise. */
  throttle?: Partial<AuthThrottleOptions>;
  /** Receives the server's log records (silent by default). */
  log?: Logger;
  /** Real waits for the throttle's failure delays; by default they are skipped. */
  realAuthDelays?: boolean;
  /** Deliver the quota usage warning at this percentage (delivery/quota-warning.ts); absent: none. */
  quotaWarningPercent?: number;
}

const ROLE_OF: Record<"smtp" | "submission" | "submissions", SmtpRole> = { smtp: "mx", submission: "submission", submissions: "submissions" };

export async function startSmtpHarness(options: SmtpHarnessOptions = {}): Promise<SmtpHarness> {
  const temp = await openTempStore("mailroom-smtp-e2e-", options.store);
  const { store } = temp;
  const log = options.log ?? silentLogger;
  await store.addDomain("example.org");
  const accounts = {
    alice: await store.createAccount({ address: "alice@example.org", passwordHash: await cheapHash("alice-pass") }),
    bob: await store.createAccount({ address: "bob@example.org", passwordHash: await cheapHash("bob-pass") }),
    carol: await store.createAccount({ address: "carol@example.org", passwordHash: await cheapHash("carol-pass") }),
  };
  const tls = await TlsContextProvider.open({ certFile: null, keyFile: null, dataDir: temp.dataDir, hostname: "mx.example.org", minVersion: "TLSv1.2", log: silentLogger });
  const authenticator = new Authenticator({
    accounts: store,
    throttle: new AuthThrottle(options.throttle),
    log: log.child({ component: "auth" }),
    hashParams: CHEAP_HASH_PARAMS,
    ...(options.realAuthDelays ? {} : { sleep: async () => {} }),
  });
  const limits = { ...E2E_LIMITS, ...options.limits };
  const deliveryReports = createDeliveryReporter({ bounces: createBounceSink({ mail: store, accounts: store, queue: store, log }), reportingMta: "mx.example.org" });
  const quota = options.quotaWarningPercent === undefined ? null : createQuotaService({ accounts: store, mail: store, warningPercent: options.quotaWarningPercent, hostname: "mx.example.org", log });
  const handlers = new Map<ListenerProtocol, ReturnType<typeof createSmtpServer>>();
  for (const [protocol, role] of Object.entries(ROLE_OF) as ["smtp" | "submission" | "submissions", SmtpRole][]) {
    handlers.set(protocol, createSmtpServer({ role, store, accounts: store, queue: store, deliveryReports, authenticator, verifier: typeof options.verifier === "function" ? options.verifier(store) : (options.verifier ?? null), limits, tls, hostname: "mx.example.org", quota, log: log.child({ component: role }) }));
  }
  const configs: ListenerConfig[] = [
    { protocol: "smtp", port: 0, address: "127.0.0.1", tls: "starttls" },
    { protocol: "submission", port: 0, address: "127.0.0.1", tls: "starttls" },
    { protocol: "submissions", port: 0, address: "127.0.0.1", tls: "implicit" },
  ];
  const listeners = await startListeners({
    listeners: configs,
    tls,
    limits: { connectionsPerIp: options.connections?.perIp ?? 1000, connectionsTotal: options.connections?.total ?? 10_000, tlsHandshakeTimeout: limits.tlsHandshakeTimeout },
    log: log.child({ component: "listener" }),
    handlerFor: (protocol) => handlers.get(protocol) ?? null,
    portFallbackOffset: 0,
    closeLingerMs: 200,
  });
  const ports = {} as Record<SmtpRole, number>;
  for (const bound of listeners.bound) ports[ROLE_OF[bound.protocol as keyof typeof ROLE_OF]] = bound.port;
  return {
    temp,
    ports,
    accounts,
    listeners,
    async stop() {
      await listeners.drain(500);
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
