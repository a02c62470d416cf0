// An in-process IMAP server for end-to-end tests: a real SQLite store in a temp dir with the
// domain example.org and accounts alice and bob (password "<name>-pass"), and two listeners on
// 127.0.0.1:0 — imap (STARTTLS) and imaps (implicit TLS) — sharing a self-signed certificate.
// Plaintext login is allowed on loopback unless a test says otherwise. stop() closes everything
// and removes the directory.
import { Authenticator, AuthThrottle } from "../../src/auth/index.js";
import type { ListenerConfig } from "../../src/config/index.js";
import { createQuotaService } from "../../src/delivery/quota-warning.js";
import { createImapServer, type ImapServer, type ImapSessionLimits } from "../../src/imap/index.js";
import type { SearchLimits } from "../../src/imap/protocol/search-key.js";
import type { ImapMetadataLimits } from "../../src/imap/commands/metadata.js";
import { TlsContextProvider } from "../../src/net/index.js";
import { silentLogger, type Logger } from "../../src/observability/log.js";
import { startListeners, type ListenerSet } from "../../src/server/listeners.js";
import type { Account } from "../../src/store/index.js";
import type { SqliteStoreOptions } from "../../src/store/sqlite/sqlite-store.js";
import { CHEAP_HASH_PARAMS, cheapHash, openTempStore, type TempStore } from "./temp-store.js";

export const IMAP_E2E_LIMITS: ImapSessionLimits & { tlsHandshakeTimeout: number } = {
  imapLineLength: 8 * 1024,
  imapLiteralSize: 1024 * 1024,
  imapIdle: 30_000,
  imapUnauthenticatedIdle: 30_000,
  tlsHandshakeTimeout: 5_000,
};

export interface ImapHarness {
  temp: TempStore;
  ports: { imap: number; imaps: number };
  accounts: Record<"alice" | "bob", Account>;
  listeners: ListenerSet;
  stop(): Promise<void>;
}

export interface ImapHarnessOptions {
  /** Options of the store under test (a failing file layer, say). */
  store?: Omit<SqliteStoreOptions, "dataDir">;
  limits?: Partial<ImapSessionLimits>;
  /** SEARCH limits as [imap] search_max_depth / search_max_keys set them; absent: the defaults. */
  searchLimits?: SearchLimits;
  /** Default true: LOGIN without TLS from 127.0.0.1, so imaplib tests need no certificate trust. */
  allowPlaintextAuthOnLoopback?: boolean;
  log?: Logger;
  /**
   * Serve IMAP on a store another harness owns (the SMTP harness: same domain and accounts), so a
   * message sent over SMTP can be read over IMAP. stop() then leaves the store to its owner.
   */
  shared?: { temp: TempStore; accounts: Record<"alice" | "bob", Account> };
  /** Serve RFC 9208 usage and the usage warning at this percentage (delivery/quota-warning.ts); absent: none. */
  quotaWarningPercent?: number;
  /** RFC 5464 METADATA limits as [imap] metadata_* set them; absent: the defaults. */
  metadataLimits?: ImapMetadataLimits;
  /** RFC 9738 MESSAGELIMIT as [imap] message_limit sets it; absent: none. */
  messageLimit?: number;
  /** RFC 9208 SETQUOTA administrators as [imap] quota_admins sets them; absent: nobody. */
  quotaAdmins?: string[];
}

export async function startImapHarness(options: ImapHarnessOptions = {}): Promise<ImapHarness> {
  const temp = options.shared?.temp ?? (await openTempStore("mailroom-imap-e2e-", options.store));
  const { store } = temp;
  const log = options.log ?? silentLogger;
  if (options.shared === undefined) await store.addDomain("example.org");
  const accounts = options.shared?.accounts ?? {
    alice: await store.createAccount({ address: "alice@example.org", passwordHash: await cheapHash("alice-pass") }),
    bob: await store.createAccount({ address: "bob@example.org", passwordHash: await cheapHash("bob-pass") }),
  };
  const tls = await TlsContextProvider.open({ certFile: null, keyFile: null, dataDir: temp.dataDir, hostname: "imap.example.org", minVersion: "TLSv1.2", log: silentLogger });
  const authenticator = new Authenticator({ accounts: store, throttle: new AuthThrottle(), log, hashParams: CHEAP_HASH_PARAMS, sleep: async () => {} });
  const limits = { ...IMAP_E2E_LIMITS, ...options.limits };
  const handler = (implicitTls: boolean): ImapServer =>
    createImapServer({
      store,
      authenticator,
      tls,
      limits,
      allowPlaintextAuthOnLoopback: options.allowPlaintextAuthOnLoopback ?? true,
      hostname: "imap.example.org",
      log,
      implicitTls,
      ...(options.searchLimits === undefined ? {} : { searchLimits: options.searchLimits }),
      ...(options.metadataLimits === undefined ? {} : { metadataLimits: options.metadataLimits }),
      ...(options.messageLimit === undefined ? {} : { messageLimit: options.messageLimit }),
      ...(options.quotaAdmins === undefined ? {} : { quotaAdmin: { admins: new Set(options.quotaAdmins), accounts: store } }),
      ...(options.quotaWarningPercent === undefined
        ? {}
        : { quota: createQuotaService({ accounts: store, mail: store, warningPercent: options.quotaWarningPercent, hostname: "imap.example.org", log }) }),
    });
  const handlers = { imap: handler(false), imaps: handler(true) };
  const configs: ListenerConfig[] = [
    { protocol: "imap", port: 0, address: "127.0.0.1", tls: "starttls" },
    { protocol: "imaps", port: 0, address: "127.0.0.1", tls: "implicit" },
  ];
  const listeners = await startListeners({
    listeners: configs,
    tls,
    limits: { connectionsPerIp: 1000, connectionsTotal: 10_000, tlsHandshakeTimeout: limits.tlsHandshakeTimeout },
    log,
    handlerFor: (protocol) => (protocol === "imap" || protocol === "imaps" ? handlers[protocol] : null),
    portFallbackOffset: 0,
    closeLingerMs: 200,
  });
  const ports = { imap: 0, imaps: 0 };
  for (const bound of listeners.bound) if (bound.protocol === "imap" || bound.protocol === "imaps") ports[bound.protocol] = bound.port;
  return {
    temp,
    ports,
    accounts,
    listeners,
    async stop() {
      await listeners.drain(500);
      if (options.shared === undefined) await temp.cleanup();
    },
  };
}

/** Delivers a small message to an account's mailbox through the store (as SMTP would). */
export async function deliverTo(harness: ImapHarness, account: Account, subject: string, mailbox = "INBOX"): Promise<void> {
  const target = await harness.temp.store.getMailbox(account.id, mailbox);
  if (target === null) throw new Error(`no mailbox ${mailbox}`);
  const body = `From: sender@example.net\r\nTo: ${account.address}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, "")}@example.net>\r\n\r\nHello, ${subject}.\r\n`;
  await harness.temp.store.deliver({ source: Buffer.from(body), targets: [{ mailboxId: target.id }] });
}
