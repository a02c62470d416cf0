// The composition root: the one place that knows every concrete class. Config in, a running
// server out: data directory -> store backend -> authentication -> TLS -> protocol handlers ->
// listeners. Everything below receives its collaborators as arguments.
import { mkdir } from "node:fs/promises";
import { AuthThrottle, Authenticator, hashPassword, type PasswordHashParams } from "../auth/index.js";
import type { Config, ListenerProtocol } from "../config/index.js";
import type { SessionHandler } from "../net/index.js";
import { TlsContextProvider } from "../net/tls-context.js";
import type { Logger } from "../observability/log.js";
import type { AccountStore, MailStore, QueueStore } from "../store/index.js";
import { openSqliteStore } from "../store/sqlite/sqlite-store.js";
import { createAdminOperations, type AdminOperations } from "../admin/operations/index.js";
import { startListeners, type ListenerSet } from "./listeners.js";
import { buildProtocolHandlers } from "./protocol-handlers.js";

/** The store with every face the services need; the SQLite backend provides all of them. */
export interface ComposedStore {
  mail: MailStore;
  accounts: AccountStore;
  queue: QueueStore;
  close(): Promise<void>;
}

export interface RunningServer {
  config: Config;
  store: ComposedStore;
  tls: TlsContextProvider;
  listeners: ListenerSet;
  /** Stops accepting, lets sessions finish (or tells them goodbye), closes the store. */
  stop(reason: string): Promise<void>;
}

export function hashParamsOf(config: Config): PasswordHashParams {
  return { memoryCost: config.auth.argon2MemoryKib, timeCost: config.auth.argon2TimeCost, parallelism: config.auth.argon2Parallelism };
}

export async function openStore(config: Config, log: Logger): Promise<ComposedStore> {
  await mkdir(config.server.dataDir, { recursive: true, mode: 0o700 });
  // Only "sqlite" exists today; the config schema refuses anything else with a message naming the key.
  const sqlite = await openSqliteStore({ dataDir: config.server.dataDir, log: log.child({ component: "store" }), groupCommit: config.store.groupCommit });
  return { mail: sqlite, accounts: sqlite, queue: sqlite, close: () => sqlite.close() };
}

export function createAdmin(config: Config, store: ComposedStore): AdminOperations {
  const params = hashParamsOf(config);
  return createAdminOperations({
    accounts: store.accounts,
    hashPassword: (password) => hashPassword(password, { params }),
    defaultPop3Policy: { mode: config.pop3.defaultMode, markSeen: config.pop3.markSeenOnRetr },
  });
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const store = await openStore(config, log);
  try {
    const tls = await TlsContextProvider.open({
      certFile: config.tls.certFile,
      keyFile: config.tls.keyFile,
      dataDir: config.server.dataDir,
      hostname: config.server.hostname,
      minVersion: config.tls.minVersion,
      log: log.child({ component: "tls" }),
    });
    const throttle = new AuthThrottle({
      baseDelayMs: config.auth.throttleBaseDelay,
      maxDelayMs: config.auth.throttleMaxDelay,
      windowMs: config.auth.throttleWindow,
      lockoutThresholdIp: config.auth.throttleLockoutIp,
      lockoutThresholdAccount: config.auth.throttleLockoutAccount,
    });
    const authenticator = new Authenticator({ accounts: store.accounts, throttle, log: log.child({ component: "auth" }), hashParams: hashParamsOf(config) });
    const handlers: Partial<Record<ListenerProtocol, SessionHandler>> = buildProtocolHandlers({ config, store, tls, authenticator, log });
    const listeners = await startListeners({
      listeners: config.listeners,
      tls,
      limits: config.limits,
      log: log.child({ component: "listener" }),
      handlerFor: (protocol) => handlers[protocol] ?? null,
      portFallbackOffset: config.server.portFallbackOffset,
    });
    let stopping: Promise<void> | null = null;
    const stop = (reason: string) => {
      stopping ??= (async () => {
        log.info("server.stopping", { reason, connections: listeners.connectionCount() });
        await listeners.close();
        await listeners.drain(config.shutdown.gracePeriod);
        await store.close();
        log.info("server.stopped", { reason });
      })();
      return stopping;
    };
    return { config, store, tls, listeners, stop };
  } catch (err) {
    await store.close();
    throw err;
  }
}
