// The composition root: the one place that knows every concrete class. Config in, a running
// server out: data directory -> owner lock -> control socket -> store backend -> authentication
// -> TLS -> protocol handlers -> listeners. Everything below receives its collaborators as arguments.
import { createLockoutNotifier } from "../delivery/lockout-notice.js";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { AuthThrottle, hashPassword, SharedAuthThrottle, type PasswordHashParams } from "../auth/index.js";
import { ClusterConnections } from "./cluster-connections.js";
import type { Config, ListenerProtocol } from "../config/index.js";
import { AcmeChallenges, AcmeManager, type CertificateSummary, type SessionHandler, type Timers } from "../net/index.js";
import { TlsContextProvider } from "../net/tls-context.js";
import { createDnssecClient, parseServerAddress } from "../net/dns-client.js";
import { tlsaKeysOf } from "../net/tlsa-keys.js";
import type { Logger, LogFields } from "../observability/log.js";
import { DeliveryLog, tapLogger } from "../observability/admin-series.js";
import { countAcceptedMessage, createAdminWeb } from "./admin-web.js";
import type { AccountStore, AuthStateStore, GreylistStore, MaildropLeaseStore, MailStore, MigrationStateStore, QueueStore, SharedAbuseStateStore, SharedNodeStateStore, SieveStore, SpamTokenStore, StoreBackup, StoreMaintenance, TlsReportStore, TlsRptSessionStore, WebAuthStore, AdminHistoryStore } from "../store/index.js";
import { backupFileSets, copyQueueAndKeys, serverVersion } from "./backup.js";
import { createCachingResolver, createSystemResolver, type DkimKeyLocation, type DnsResolver } from "../mail-auth/index.js";
import { BatchedTlsSessionRecorder, createBounceSink, createDaneResolver, createDkimSigner, createHttpsPolicyFetcher, createHttpsReportPoster, createMtaStsLookup, OutboundWorker, stsFetchResultType, TlsRptSender, type DaneOutcome, type DaneResolver, type PolicyFetcher, type ReportPoster } from "../queue/index.js";
import { openSqliteStore } from "../store/sqlite/sqlite-store.js";
import type { QueuedMessage, QuotaPolicy } from "../store/index.js";
import type { CopyProgress, CopyReport } from "../store/postgresql/import.js";
import { acquireOwnerLock } from "./owner-lock.js";
import { existsSync } from "node:fs";
import { createAdminOperations, type AcmeAdmin, type AdminOperations, type LiveSessions } from "../admin/operations/index.js";
import { CONTROL_SOCKET_FILE } from "../admin/control/protocol.js";
import { startControlServer, type ControlServer } from "./control-server.js";
import { startListeners, type ListenerSet } from "./listeners.js";
import { eventLoopMonitor } from "./event-loop-monitor.js";
import { liveSessions, TrackingAuthenticator } from "./live-sessions.js";
import { acquireServeLock } from "./owner-lock.js";
import { buildProtocolHandlers } from "./protocol-handlers.js";
import { suspendForAbuse } from "./abuse-actions.js";
import { createSendLimiter, createSharedSendLimiter } from "../abuse/send-limits.js";
import { startHttpService, clientServers, createProfileSigner, mtaStsPolicyLines, tlsReportUri, type HttpService } from "../http/index.js";
import { createTlsReportIntake } from "../delivery/tls-report.js";
import { Metrics } from "../observability/metrics.js";

/** The store with every face the services need; the SQLite backend provides all of them. */
export interface ComposedStore {
  mail: MailStore;
  accounts: AccountStore;
  /** SCRAM keys, app passwords, TOTP (issue 22); absent: main password only. */
  authState?: AuthStateStore;
  queue: QueueStore;
  /** Sieve scripts and vacation memory; absent for a backend without them (no filtering then). */
  sieve?: SieveStore;
  /** The spam classifier's per-account statistics; absent: no classifier, no training. */
  spam?: SpamTokenStore;
  /** Greylisting state; absent: no greylisting. */
  greylist?: GreylistStore;
  /** POP3 maildrop leases for a store several nodes share (PostgreSQL); absent: the in-process lock suffices. */
  maildropLeases?: MaildropLeaseStore;
  /** TLS-RPT reports (RFC 8460); absent for a backend without them (reports then stay plain mail). */
  tlsReports?: TlsReportStore;
  /** TLS-RPT session counts for the reports we send (RFC 8460); absent: outbound.tls_rpt has no effect. */
  tlsRptSessions?: TlsRptSessionStore;
  /** Admin accounts, browser sessions and API tokens (http/admin-api.ts). */
  webAuth?: WebAuthStore;
  /** The admin dashboard's minutes and delivery log (both backends). */
  adminHistory?: AdminHistoryStore;
  /** Auth throttling, per-IP rates and connection counts shared by every node (PostgreSQL); absent: in memory. */
  abuseState?: SharedAbuseStateStore;
  /** DKIM keys, ACME state, per-account counters and POP3 last logins shared by every node (PostgreSQL); absent: files and memory. */
  nodeState?: SharedNodeStateStore;
  /** What `mailroom migrate` copied so far; absent: no migrate. */
  migrations?: MigrationStateStore;
  maintenance?: StoreMaintenance;
  /** `mailroom backup`: a consistent online backup (SQLite snapshot, PostgreSQL REPEATABLE READ dump; docs/architecture.md, "Backup and restore"). */
  backup?: StoreBackup;
  /** Starts blob garbage collection: only the serving process does (docs/architecture.md, Durability). */
  startCollector?(): void;
  close(): Promise<void>;
}

export interface RunningServer {
  config: Config;
  store: ComposedStore;
  tls: TlsContextProvider;
  listeners: ListenerSet;
  /** The outbound queue's workers (delivery of our users' mail to other servers). */
  outbound: OutboundWorker;
  /** Where admin commands reach this server (`<data_dir>/mailroom.sock`). */
  control: ControlServer;
  /** The HTTP(S) service ([http]); null when http.enabled is false. */
  http: HttpService | null;
  /** Prometheus metrics (served at /metrics). */
  metrics: Metrics;
  /** ACME certificates ([acme]); null when acme.enabled is false. */
  acme: AcmeManager | null;
  /** Stops accepting, lets sessions finish (or tells them goodbye), closes the store. */
  stop(reason: string): Promise<void>;
}

export function hashParamsOf(config: Config): PasswordHashParams {
  return { memoryCost: config.auth.argon2MemoryKib, timeCost: config.auth.argon2TimeCost, parallelism: config.auth.argon2Parallelism };
}

/**
 * The file whose presence says "a store lives in this data dir": the SQLite backend's database
 * (store/sqlite/sqlite-store.ts). Admin commands refuse to start a new store without --init.
 */
export const STORE_MARKER_FILE = "mailroom.sqlite";

/**
 * The PostgreSQL backend and its driver, loaded only when configured: an embedded (SQLite)
 * server or admin command does not pay for loading pg.
 */
async function postgresModules() {
  const [store, database, schema, copy, nodeState, backup] = await Promise.all([
    import("../store/postgresql/postgresql-store.js"),
    import("../store/postgresql/database.js"),
    import("../store/postgresql/schema.js"),
    import("../store/postgresql/import.js"),
    import("../store/postgresql/node-state.js"),
    import("../store/postgresql/backup.js"),
  ]);
  return { ...store, ...database, ...schema, ...copy, ...nodeState, ...backup };
}

/** config [quota] as the stores apply it (store/quota.ts). */
export function quotaPolicy(config: Config): QuotaPolicy {
  return { storageBytes: config.quota.storage, messages: config.quota.messages, warningPercent: config.quota.warningPercent };
}

export async function openStore(config: Config, log: Logger): Promise<ComposedStore> {
  await mkdir(config.server.dataDir, { recursive: true, mode: 0o700 });
  if (config.store.backend === "postgresql") {
    // Shared by every node (docs/architecture.md, "PostgreSQL backend"); the schema is migrated at
    // open, under an advisory lock, so nodes starting together are safe.
    const { openPostgresStore, PostgresNodeState, writePostgresBackup } = await postgresModules();
    const pg = await openPostgresStore({
      url: config.store.url!,
      passwordEnv: config.store.passwordEnv,
      passwordFile: config.store.passwordFile,
      maxConnections: config.store.maxConnections,
      log: log.child({ component: "store" }),
      mimeLimits: { maxDepth: config.limits.mimeMaxDepth, maxParts: config.limits.mimeMaxParts },
      quota: quotaPolicy(config),
    });
    return { mail: pg, accounts: pg, authState: pg, queue: pg, sieve: pg, spam: pg, greylist: pg, migrations: pg, tlsReports: pg, tlsRptSessions: pg, webAuth: pg, adminHistory: pg, maintenance: pg, maildropLeases: pg, abuseState: pg, nodeState: new PostgresNodeState(pg.pool), backup: { writeBackup: (request) => writePostgresBackup(pg.pool, request) }, startCollector: () => pg.startCollector(), close: () => pg.close() };
  }
  const sqlite = await openSqliteStore({
    dataDir: config.server.dataDir,
    log: log.child({ component: "store" }),
    groupCommit: config.store.groupCommit,
    mimeLimits: { maxDepth: config.limits.mimeMaxDepth, maxParts: config.limits.mimeMaxParts },
    quota: quotaPolicy(config),
  });
  return { mail: sqlite, accounts: sqlite, authState: sqlite, queue: sqlite, sieve: sqlite, spam: sqlite, greylist: sqlite, migrations: sqlite, tlsReports: sqlite, tlsRptSessions: sqlite, webAuth: sqlite, adminHistory: sqlite, maintenance: sqlite, backup: sqlite, startCollector: () => sqlite.startCollector(), close: () => sqlite.close() };
}

/**
 * `mailroom store migrate`: the configured store's schema brought up to date. PostgreSQL: under the
 * migration advisory lock, so it is safe beside running nodes. SQLite migrates whenever the store
 * is opened; this opens and closes it (the data dir's owner lock is the caller's business).
 */
export async function migrateStore(config: Config, log: Logger): Promise<string[]> {
  if (config.store.backend === "postgresql") {
    const { createPool, migratePostgres, redactUrl, toStoreError } = await postgresModules();
    try {
      const pool = createPool({ url: config.store.url!, passwordEnv: config.store.passwordEnv, passwordFile: config.store.passwordFile, maxConnections: 1 }, log);
      try {
        const report = await migratePostgres(pool, () => new Date());
        const where = redactUrl(config.store.url!);
        return report.applied.length === 0
          ? [`store migrate: ${where} is at schema version ${report.to}; nothing to do`]
          : [`store migrate: ${where} migrated from version ${report.from} to ${report.to} (applied ${report.applied.join(", ")})`];
      } finally {
        await pool.end();
      }
    } catch (err) {
      throw toStoreError(err);
    }
  }
  const store = await openStore(config, log);
  await store.close();
  return [`store migrate: the SQLite store in ${config.server.dataDir} is up to date (it migrates itself when opened)`];
}

/**
 * `mailroom store copy --from <data-dir> --to postgres://...`: the embedded store of a data dir
 * (held with its owner lock, so no server writes to it meanwhile) copied into an empty PostgreSQL
 * database, verified by counts and checksums (store/postgresql/import.ts).
 */
/** What `mailroom store copy` prints after either direction. */
export function copySummary(report: CopyReport): string {
  return `${report.domains} domain(s), ${report.accounts} account(s), ${report.aliases} alias(es), ${report.mailboxes} mailbox(es), ${report.messages} message(s) (${report.bytes} octets), ${report.sieveScripts} Sieve script(s), ${report.tombstones} expunge tombstone(s), ${report.tlsReports} TLS report(s), ${report.metadataEntries} METADATA entr(y/ies), ${report.aclEntries} ACL entr(y/ies), ${report.authStates} account auth state(s), ${report.appPasswords} app password(s), ${report.admins} admin(s), ${report.apiTokens} API token(s), ${report.webAuthnCredentials} WebAuthn credential(s); counts and checksums match (${report.durationMs} ms)`;
}

export { postgresModules };

export async function copyStore(
  config: Config,
  log: Logger,
  options: { from: string; to: string; passwordEnv?: string | null; passwordFile?: string | null },
  onProgress: (progress: CopyProgress) => void,
): Promise<string[]> {
  if (isPostgresUrl(options.from)) return copyStoreBack(config, log, { ...options, from: options.from }, onProgress);
  if (!existsSync(join(options.from, STORE_MARKER_FILE))) throw new Error(`no Mailroom store in ${options.from}`);
  const { openPostgresStore, copyStore: copyIntoPostgres, redactUrl, toStoreError } = await postgresModules();
  const lock = acquireOwnerLock(options.from, "store copy");
  try {
    const source = await openSqliteStore({ dataDir: options.from, log, mimeLimits: { maxDepth: config.limits.mimeMaxDepth, maxParts: config.limits.mimeMaxParts } });
    try {
      const target = await openPostgresStore({
        url: options.to,
        passwordEnv: options.passwordEnv ?? null,
        passwordFile: options.passwordFile ?? null,
        log,
        mimeLimits: { maxDepth: config.limits.mimeMaxDepth, maxParts: config.limits.mimeMaxParts },
      });
      try {
        const report = await copyIntoPostgres({ mail: source, accounts: source, sieve: source, tlsReports: source, authState: source, webAuth: source }, target, onProgress);
        // The queue and the key files the PostgreSQL backend keeps in the database (server/backup.ts).
        const moved = await copyQueueAndKeys(source, target, options.from);
        return [
          ...report.verified.map((line) => `verified ${line}`),
          `store copy: ${options.from} -> ${redactUrl(options.to)}: ${copySummary(report)}`,
          `store copy: ${moved}`,
        ];
      } finally {
        await target.close();
      }
    } finally {
      await source.close();
    }
  } catch (err) {
    throw toStoreError(err);
  } finally {
    lock.release();
  }
}

const isPostgresUrl = (text: string): boolean => /^postgres(ql)?:\/\//i.test(text);

/**
 * `mailroom store copy --from postgres://... --to <data-dir>`: back to one machine. The database is
 * copied into a new (or empty) embedded store in the data dir, held with its owner lock, and read
 * back and verified as in the other direction. Nodes should be stopped first: a copy of a database
 * that is still being written is a copy of some moment, and what came later is not in it.
 */
async function copyStoreBack(
  config: Config,
  log: Logger,
  options: { from: string; to: string; passwordEnv?: string | null; passwordFile?: string | null },
  onProgress: (progress: CopyProgress) => void,
): Promise<string[]> {
  if (isPostgresUrl(options.to)) throw new Error("store copy: one side must be a data dir");
  const { openPostgresStore, copyStore: copyBetween, redactUrl, toStoreError } = await postgresModules();
  await mkdir(options.to, { recursive: true, mode: 0o700 });
  const lock = acquireOwnerLock(options.to, "store copy");
  try {
    const mimeLimits = { maxDepth: config.limits.mimeMaxDepth, maxParts: config.limits.mimeMaxParts };
    const source = await openPostgresStore({ url: options.from, passwordEnv: options.passwordEnv ?? null, passwordFile: options.passwordFile ?? null, log, mimeLimits });
    try {
      const target = await openSqliteStore({ dataDir: options.to, log, mimeLimits });
      try {
        const report = await copyBetween({ mail: source, accounts: source, sieve: source, tlsReports: source, authState: source, webAuth: source }, target, onProgress);
        return [
          ...report.verified.map((line) => `verified ${line}`),
          `store copy: ${redactUrl(options.from)} -> ${options.to}: ${copySummary(report)}`,
        ];
      } finally {
        await target.close();
      }
    } finally {
      await source.close();
    }
  } catch (err) {
    throw toStoreError(err);
  } finally {
    lock.release();
  }
}

/** What only a running server adds to the admin operations (none for an in-process command). */
export interface RunningAdminExtras {
  tlsCertificates: () => readonly CertificateSummary[];
  serverStatus: () => Record<string, unknown>;
  bounce: (entry: QueuedMessage, reason: string) => Promise<unknown>;
  /** Forgets an account's failed logins (`mailroom user unlock`): the counts live in the server. */
  unlock: (address: string) => Promise<void>;
}

export function createAdmin(config: Config, store: ComposedStore, sessions?: LiveSessions, acme?: () => AcmeAdmin | null, stopSignal?: AbortSignal, running?: RunningAdminExtras): AdminOperations {
  const params = hashParamsOf(config);
  return createAdminOperations({
    accounts: store.accounts,
    mail: store.mail,
    maintenance: store.maintenance,
    importer: { store: store.mail, maxMessageBytes: config.limits.maxMessageSize },
    transfer: { store: store.mail, ...(store.migrations ? { migrations: store.migrations } : {}), maxMessageBytes: config.limits.maxMessageSize, ...(stopSignal ? { stopSignal } : {}) },
    ...(sessions ? { sessions } : {}),
    hashPassword: (password) => hashPassword(password, { params }),
    ...(store.authState ? { authState: store.authState, scramIterations: config.auth.scramIterations, issuer: config.server.hostname } : {}),
    ...(running ? { unlock: running.unlock } : {}),
    defaultPop3Policy: { mode: config.pop3.defaultMode, markSeen: config.pop3.markSeenOnRetr },
    ...(store.tlsReports ? { tlsReports: store.tlsReports } : {}),
    ...(store.backup ? { backup: { store: store.backup, files: backupFileSets(config), serverVersion: serverVersion() } } : {}),
    ...(acme ? { acme } : {}),
    ...(store.sieve ? { sieve: { scripts: store.sieve, maxScriptBytes: config.sieve.maxScriptBytes, maxScripts: config.sieve.maxScripts, maxNesting: config.sieve.maxNesting } } : {}),
    ...(running ? { tlsCertificates: running.tlsCertificates, serverStatus: running.serverStatus } : {}),
    ...(store.webAuth ? { webAuth: store.webAuth } : {}),
    outbound: { queue: store.queue, dkim: { keyDir: dkimKeysOf(config, store), selector: config.outbound.dkimSelector }, hostname: config.server.hostname, listeners: config.listeners, mtaStsPolicy: mtaStsPolicyLines(config.http, config.server.hostname), ...(acceptsTlsReportUploads(config, store) ? { tlsReportUri: tlsReportUri(config.server.hostname) } : {}), dnsServers: config.outbound.dnsServers, tlsaKeys: () => tlsaKeysOf({ hostname: config.server.hostname, dataDir: config.server.dataDir, certFile: config.tls.certFile, acme: config.acme.enabled }), ...(running ? { bounce: running.bounce } : {}) },
  });
}

/** Whether the HTTP side takes TLS-RPT reports by POST (http/tls-rpt.ts): enabled, and a store that keeps them. */
function acceptsTlsReportUploads(config: Config, store: ComposedStore): boolean {
  return config.http.enabled && config.http.tlsReports && store.tlsReports !== undefined;
}

/** Where per-domain DKIM keys live: outbound.dkim_key_dir, or <data_dir>/dkim. */
export function dkimKeyDirOf(config: Config): string {
  return config.outbound.dkimKeyDir ?? join(config.server.dataDir, "dkim");
}

/** Where this server's DKIM keys are: the shared store on PostgreSQL (every node signs alike), else the key directory. */
export function dkimKeysOf(config: Config, store: Pick<ComposedStore, "nodeState">): DkimKeyLocation {
  return store.nodeState ?? dkimKeyDirOf(config);
}

/** The resolver outbound delivery asks: outbound.dns_servers (or the system's), cached. */
export function createOutboundResolver(settings: Pick<Config["outbound"], "dnsServers">): DnsResolver {
  const system = createSystemResolver({ timeoutMs: 10_000, ...(settings.dnsServers.length > 0 ? { servers: settings.dnsServers } : {}) });
  return createCachingResolver(system, { maxEntries: 10_000, ttlMs: 5 * 60_000, negativeTtlMs: 60_000 });
}

/**
 * DANE (RFC 7672): with a validating resolver configured, every outbound lookup goes through it,
 * so the addresses connected to are the ones whose TLSA records were checked (and the TLS-RPT
 * sender finds _smtp._tls records the same way).
 */
function outboundLookups(settings: Config["outbound"]): { dane: DaneResolver | null; resolver: DnsResolver; daneServer: ReturnType<typeof parseServerAddress> | null } {
  const daneServer = settings.dnssecResolver !== null ? parseServerAddress(settings.dnssecResolver) : null;
  const dane = daneServer ? createDaneResolver(createDnssecClient({ server: daneServer, timeoutMs: Math.min(settings.connectTimeout, 10_000) })) : null;
  return { dane, resolver: dane ? dane.resolver : createOutboundResolver(settings), daneServer };
}

/** What a test (or an embedding program) may add to what the config says. */
export interface OutboundExtras {
  /** How often the queue is polled when nothing woke the workers. */
  pollIntervalMs?: number;
  /** How long a leased entry stays invisible to other workers; by default longer than any attempt. */
  leaseMs?: number;
  /** Extra certificate authorities (PEM) trusted beside the system's: smarthosts, MTA-STS. */
  trustedCa?: string | Buffer;
  /** Fetches MTA-STS policy files; by default HTTPS to mta-sts.<domain>:443. */
  mtaStsFetcher?: PolicyFetcher;
  /** The port of the default fetcher (443; tests serve policies elsewhere). */
  mtaStsPort?: number;
  /** Each DANE-governed host's result (RFC 7672), e.g. for TLS reporting (RFC 8460). */
  onDaneOutcome?: (outcome: DaneOutcome) => void;
  /** The workers' clock and timers (tests: a manual clock, so timings are asserted in test time). */
  clock?: () => Date;
  timers?: Timers;
  /** POSTs TLS-RPT reports to https: rua URIs; by default HTTPS with the trusted anchors. */
  tlsRptPoster?: ReportPoster;
}

/** The outbound workers over the store, configured from [outbound]; not started. */
export async function createOutbound(config: Config, store: ComposedStore, log: Logger, extras: OutboundExtras = {}): Promise<OutboundWorker> {
  const settings = config.outbound;
  const { dane, resolver, daneServer } = outboundLookups(settings);
  let smarthostAuth: { username: string; password: string } | null = null;
  if (settings.smarthost && settings.smarthostUsername !== null && settings.smarthostPasswordFile !== null) {
    const password = (await readFile(settings.smarthostPasswordFile, "utf8")).split(/\r?\n/)[0] ?? "";
    smarthostAuth = { username: settings.smarthostUsername, password };
  }
  const outboundLog = log.child({ component: "outbound" });
  // RFC 4035 §4.9.3: the AD bit is only as good as the path from the resolver; off the host it can be forged.
  if (daneServer && !/^(127\.|::1$)/.test(daneServer.host)) outboundLog.warn("outbound.dnssec_resolver_remote", { resolver: settings.dnssecResolver, note: "its AD bit is trusted for DANE: use a resolver on this host or on a link you trust" });
  // RFC 8460: TLS sessions counted for the daily reports (queue/tls-rpt-recorder.ts).
  const tlsSessions = settings.tlsRpt && store.tlsRptSessions ? new BatchedTlsSessionRecorder({ store: store.tlsRptSessions, log: outboundLog }) : null;
  const mtaSts = settings.mtaSts
    ? createMtaStsLookup({
        resolver,
        fetch: extras.mtaStsFetcher ?? createHttpsPolicyFetcher({ resolver, timeoutMs: settings.connectTimeout, ...(extras.trustedCa ? { ca: extras.trustedCa } : {}), ...(extras.mtaStsPort ? { port: extras.mtaStsPort } : {}) }),
        log: (event, fields) => {
          outboundLog.warn(event, fields);
          // A policy that could not be had is a failed session of that domain's report (RFC 8460 §4.3.1).
          if (event === "mta_sts.fetch_failed" && typeof fields["domain"] === "string") tlsSessions?.policyFailure({ type: "sts", domain: fields["domain"], strings: [], mxHost: [] }, stsFetchResultType(String(fields["error"] ?? "")));
        },
      })
    : null;
  return new OutboundWorker({
    queue: store.queue,
    routing: {
      resolver,
      remotePort: settings.remotePort,
      requireTls: settings.requireTls,
      routes: settings.routes,
      smarthost: settings.smarthost ? { ...settings.smarthost, tls: settings.smarthostTls, auth: smarthostAuth } : null,
      mtaSts,
      onPolicyEvent: (event, fields) => outboundLog.warn(event, fields),
      dane,
      ...(extras.onDaneOutcome ? { onDaneOutcome: extras.onDaneOutcome } : {}),
    },
    client: { heloName: config.server.hostname, connectTimeoutMs: settings.connectTimeout, commandTimeoutMs: settings.commandTimeout, ...(extras.trustedCa ? { ca: extras.trustedCa } : {}) },
    retry: { scheduleMs: settings.retrySchedule, maxLifetimeMs: settings.maxLifetime, delayWarningMs: settings.delayWarning },
    bounces: createBounceSink({ mail: store.mail, accounts: store.accounts, queue: store.queue, log: outboundLog }),
    sign: createDkimSigner(dkimKeysOf(config, store), store.queue),
    concurrency: settings.workers,
    perDestination: settings.perDestination,
    perDestinationRate: settings.perDestinationRate,
    // Longer than one attempt can take (connect, commands, the end of DATA), so leases never overlap.
    leaseMs: extras.leaseMs ?? (settings.lease > 0 ? settings.lease : settings.connectTimeout + 4 * settings.commandTimeout + 60_000),
    hostname: config.server.hostname,
    log: outboundLog,
    tlsSessions,
    ...(extras.pollIntervalMs !== undefined ? { pollIntervalMs: extras.pollIntervalMs } : {}),
    ...(extras.clock ? { clock: extras.clock } : {}),
    ...(extras.timers ? { timers: extras.timers } : {}),
  });
}

/** The daily TLS-RPT reports (RFC 8460), when outbound.tls_rpt is on and the store keeps the counts; not started. */
export function createTlsRptSender(config: Config, store: ComposedStore, log: Logger, extras: OutboundExtras = {}): TlsRptSender | null {
  const settings = config.outbound;
  if (!settings.tlsRpt || !store.tlsRptSessions) return null;
  const { resolver } = outboundLookups(settings);
  return new TlsRptSender({
    store: store.tlsRptSessions,
    resolver,
    queue: store.queue,
    mail: store.mail,
    accounts: store.accounts,
    organization: settings.tlsRptOrganization,
    contact: settings.tlsRptContact,
    from: settings.tlsRptFrom,
    hostname: config.server.hostname,
    post: extras.tlsRptPoster ?? createHttpsReportPoster({ resolver, timeoutMs: settings.connectTimeout, ...(extras.trustedCa ? { ca: extras.trustedCa } : {}) }),
    log: log.child({ component: "tls-rpt" }),
  });
}

/** The store as the protocol handlers see it: an enqueue wakes the outbound workers at once. */
/** Every minute one node's worth of pruning: expired throttle rows and hour-old MAIL counters. */
function startAbusePruner(store: SharedAbuseStateStore, throttle: SharedAuthThrottle, log: Logger, counters?: SharedNodeStateStore): NodeJS.Timeout {
  const timer = setInterval(() => {
    void (async () => {
      try {
        await throttle.prune();
        await store.pruneIpMessages();
        await counters?.pruneCounters();
      } catch (error) {
        log.warn("cluster.prune_failed", { error });
      }
    })();
  }, 60_000);
  timer.unref();
  return timer;
}

function wakingStore(store: ComposedStore, wake: () => void): ComposedStore {
  const queue = store.queue;
  const waking: QueueStore = {
    enqueue: async (request) => {
      const entry = await queue.enqueue(request);
      wake();
      return entry;
    },
    getQueued: (id) => queue.getQueued(id),
    listQueue: (limit) => queue.listQueue(limit),
    listQueuePage: (query) => queue.listQueuePage(query),
    countQueue: () => queue.countQueue(),
    openQueued: (entry) => queue.openQueued(entry),
    leaseDue: (now, limit, leaseMs) => queue.leaseDue(now, limit, leaseMs),
    recordAttempt: (id, results, next, options) => queue.recordAttempt(id, results, next, options),
    listFinished: (limit) => queue.listFinished(limit),
    complete: (id) => queue.complete(id),
  };
  return { ...store, queue: waking };
}

/** What the process entry adds to a start (main.ts): the privilege drop of server/privileges.ts. */
export interface StartHooks {
  /** Runs once every port is bound, before the outbound workers start; may throw to abort the start. */
  afterBind?(): void;
}

/**
 * Starts the whole server. The owner lock comes first: a second server on the same data dir
 * stops right here, having created, removed or bound nothing (owner-lock.ts); an admin command
 * working in-process is waited for (10 s at most).
 */
export async function startServer(config: Config, baseLog: Logger, hooks: StartHooks = {}): Promise<RunningServer> {
  // The delivery log of the admin pages and the received/delivered counters are fed from the log
  // events every message already produces (server/admin-web.ts); bound once metrics exist.
  let onLogEvent: ((event: string, fields: LogFields) => void) | null = null;
  const log = tapLogger(baseLog, (event, fields) => onLogEvent?.(event, fields));
  await mkdir(config.server.dataDir, { recursive: true, mode: 0o700 });
  const lock = await acquireServeLock(config.server.dataDir, 10_000);
  const startedAt = Date.now();
  const loop = eventLoopMonitor();
  let store: ComposedStore | null = null;
  let control: ControlServer | null = null;
  let listenersRef: ListenerSet | null = null;
  let operationsReady!: (operations: AdminOperations) => void;
  let operationsFailed!: (error: Error) => void;
  const operations = new Promise<AdminOperations>((resolve, reject) => {
    operationsReady = resolve;
    operationsFailed = reject;
  });
  void operations.catch(() => {});
  try {
    const status = (reset: boolean): Record<string, unknown> => ({
      pid: process.pid,
      dataDir: config.server.dataDir,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      connections: listenersRef?.connectionCount() ?? 0,
      eventLoop: loop.snapshot(reset),
    });
    control = await startControlServer({
      socketPath: join(config.server.dataDir, CONTROL_SOCKET_FILE),
      operations,
      status,
      log: log.child({ component: "control" }),
    });
    const opened = await openStore(config, log);
    store = opened;
    const outbound = await createOutbound(config, opened, log);
    const tlsRptSender = createTlsRptSender(config, wakingStore(opened, () => outbound.wake()), log);
    const tls = await TlsContextProvider.open({
      certFile: config.tls.certFile,
      keyFile: config.tls.keyFile,
      dataDir: config.server.dataDir,
      hostname: config.server.hostname,
      minVersion: config.tls.minVersion,
      ciphers: { client: config.tls.ciphersClient, mx: config.tls.ciphersMx },
      log: log.child({ component: "tls" }),
      // A self-signed certificate names these (not every interface's address: tls-context.ts).
      bindAddresses: [...config.listeners.map((l) => l.address), ...(config.http.enabled ? [config.http.address] : [])],
    });
    // Stored ACME certificates are served from the first connection on; ordering starts once the HTTP side is up.
    // On PostgreSQL the account, certificates and HTTP-01 answers are shared by every node (net/acme.ts).
    const acmeChallenges = config.acme.enabled ? new AcmeChallenges(opened.nodeState ?? null) : null;
    const acmeManager =
      acmeChallenges === null
        ? null
        : new AcmeManager({
            settings: config.acme,
            dataDir: config.server.dataDir,
            hostname: config.server.hostname,
            tls,
            challenges: acmeChallenges,
            domains: async () => (await opened.accounts.listDomains()).map((domain) => domain.name),
            availableChallenges: () => {
              const bound = httpRef?.bound ?? [];
              return [...(bound.some((b) => b.scheme === "http") ? (["http-01"] as const) : []), ...(bound.some((b) => b.scheme === "https") ? (["tls-alpn-01"] as const) : [])];
            },
            log: log.child({ component: "acme" }),
            shared: opened.nodeState ?? null,
            sharedCheckIntervalMs: config.acme.sharedCheckInterval,
          });
    await acmeManager?.loadStored();
    let httpRef: HttpService | null = null;
    const throttleOptions = {
      baseDelayMs: config.auth.throttleBaseDelay,
      maxDelayMs: config.auth.throttleMaxDelay,
      windowMs: config.auth.throttleWindow,
      lockoutThresholdIp: config.auth.throttleLockoutIp,
      lockoutThresholdAccount: config.auth.throttleLockoutAccount,
    };
    // Several nodes on one database count failures, MAIL attempts and connections together
    // (docs/scale-out.md, "Shared abuse state"); alone, memory is the whole truth and costs nothing.
    const shared = opened.abuseState ?? null;
    const sharedThrottle = shared ? new SharedAuthThrottle(shared, throttleOptions) : null;
    const throttle = sharedThrottle ?? new AuthThrottle(throttleOptions);
    const clusterConnections = shared ? new ClusterConnections({ store: shared, log: log.child({ component: "cluster" }) }) : null;
    const abusePruner = shared && sharedThrottle ? startAbusePruner(shared, sharedThrottle, log.child({ component: "cluster" }), opened.nodeState) : null;
    const authenticator = new TrackingAuthenticator({ accounts: opened.accounts, throttle, log: log.child({ component: "auth" }), hashParams: hashParamsOf(config), ...(opened.authState ? { authState: opened.authState } : {}), scramIterations: config.auth.scramIterations });
    // A lock-out of an account puts a notice into its INBOX (delivery/lockout-notice.ts).
    if (opened.authState) authenticator.onLockout = createLockoutNotifier({ mail: opened.mail, authState: opened.authState, windowMs: config.auth.throttleWindow, hostname: config.server.hostname, log: log.child({ component: "auth" }) });
    // On PostgreSQL the windows are counted in the database, summed over every node (abuse/send-limits.ts).
    // Aborted at stop: long admin operations (migrate) end early and resumable.
    const longOperations = new AbortController();
    const sendLimiter = opened.nodeState ? createSharedSendLimiter(config.abuse, opened.nodeState) : createSendLimiter(config.abuse);
    const abuseLog = log.child({ component: "abuse" });
    let admin: ReturnType<typeof createAdmin> | null = null;
    // Metrics exist only further down; TLS-RPT outcomes reach them through this late binding.
    let metricsRef: Metrics | null = null;
    const handlers: Partial<Record<ListenerProtocol, SessionHandler>> = buildProtocolHandlers({
      config,
      store: wakingStore(opened, () => outbound.wake()),
      tls,
      authenticator,
      log,
      // Verdicts only come once listeners run, by which time metrics (below) exists.
      observeSpam: (action) => metrics.spamVerdict(action),
      sendLimits: {
        limiter: sendLimiter,
        onRefusal: (account, refusal) => {
          metrics.sendLimitRefusal(refusal.limit);
          if (refusal.suspend && admin !== null) {
            const disable = admin.disableUser.bind(admin);
            void suspendForAbuse({ disableUser: disable, mail: opened.mail, accounts: opened.accounts, hostname: config.server.hostname, log: abuseLog }, account, refusal);
          }
        },
      },
      tlsReportObserver: (outcome, report) => metricsRef?.tlsReport(outcome, report?.policies ?? []),
    });
    // Admin commands run from here on against this store, ending sessions through these handlers.
    admin = createAdmin(config, wakingStore(opened, () => outbound.wake()), liveSessions(handlers, authenticator, log.child({ component: "admin" })), () => acmeManager, longOperations.signal, {
      tlsCertificates: () => tls.certificates,
      serverStatus: () => status(false),
      bounce: (entry, reason) => outbound.bounceNow(entry, reason),
      unlock: (address) => authenticator.unlock(address),
    });
    operationsReady(admin);
    const metrics = new Metrics({
      openConnections: () => listenersRef?.openByListener?.() ?? {},
      queue: async () => {
        // Counted in the store; listQueue is oldest first, so its first entry is the oldest.
        const [length, first] = await Promise.all([opened.queue.countQueue(), opened.queue.listQueue(1)]);
        const oldest = first[0]?.createdAt.getTime() ?? Date.now();
        return { length, oldestAgeSeconds: (Date.now() - oldest) / 1000 };
      },
    });
    metricsRef = metrics;
    authenticator.observe = (protocol, ok) => metrics.login(protocol, "password", ok);
    // Kept in the store (batched writes) so a restart keeps them and a cluster shares them; only
    // when the admin web that shows them is on (else nothing reads them: no store writes).
    const historyLog = log.child({ component: "admin-history" });
    const adminWebOn = config.http.enabled && config.http.admin && opened.webAuth !== undefined && opened.webAuth !== null;
    const deliveries = new DeliveryLog(adminWebOn ? config.http.adminDeliveryLog : 0, {
      history: adminWebOn ? (opened.adminHistory ?? null) : null,
      onError: (error) => historyLog.warn("admin.history_write_failed", { error: error instanceof Error ? error.message : String(error) }),
    });
    deliveries.start();
    onLogEvent = (event, fields) => {
      countAcceptedMessage(metrics, event, fields);
      deliveries.record(event, fields, new Date());
    };
    const adminWeb = adminWebOn && opened.webAuth
      ? createAdminWeb({ config, store: opened.webAuth, accounts: opened.accounts, operations: admin, authenticator, throttle, hashParams: hashParamsOf(config), metrics, deliveries, ...(opened.adminHistory ? { history: opened.adminHistory } : {}), log })
      : null;
    await adminWeb?.start();
    // Outbound outcomes per recipient: delivered (relayed), deferred, failed (bounced).
    const previousOnAttempt = outbound.onAttempt;
    outbound.onAttempt = (report) => {
      for (const outcome of report.outcomes) {
        if (outcome.state === "delivered") {
          metrics.message("relayed");
          if (report.createdAt && report.at) metrics.delivered("relayed", Math.max(0, report.at.getTime() - report.createdAt.getTime()) / 1000);
        } else if (outcome.state === "deferred") metrics.message("deferred");
        else if (outcome.state === "failed") {
          metrics.message("bounced");
          // A refused recipient of a user's message counts toward abuse.max_failed_ratio.
          if (report.submittedBy) {
            void Promise.resolve(sendLimiter.recordFailedRecipient(report.submittedBy)).catch((error: unknown) => abuseLog.warn("abuse.count_failed", { error }));
          }
        }
      }
      previousOnAttempt?.(report);
    };
    const listeners = await startListeners({
      observer: metrics,
      listeners: config.listeners,
      tls,
      limits: config.limits,
      log: log.child({ component: "listener" }),
      handlerFor: (protocol) => handlers[protocol] ?? null,
      portFallbackOffset: config.server.portFallbackOffset,
      proxyProtocol: { trusted: config.server.proxyProtocolTrusted, timeoutMs: config.limits.proxyProtocolTimeout },
      ...(clusterConnections ? { sharedCounts: clusterConnections } : {}),
    });
    listenersRef = listeners;
    clusterConnections?.start();
    let http: HttpService | null = null;
    if (config.http.enabled) {
      // Bound before the privilege drop, like the mail ports (80 and 443 need root).
      http = await startHttpService({
        context: {
          hostname: config.server.hostname,
          settings: config.http,
          servers: () => {
            const byConfig = new Map(listeners.bound.map((b) => [`${b.protocol}:${b.address}:${b.requestedPort}`, b.port]));
            return clientServers(config.listeners, config.server.hostname, (l) => byConfig.get(`${l.protocol}:${l.address}:${l.port}`) ?? 0);
          },
          isLocalDomain: (domain) => opened.accounts.isLocalDomain(domain),
          readiness: async () => {
            const checks = [];
            try {
              await opened.accounts.isLocalDomain("readyz.invalid");
              checks.push({ name: "store", ok: true });
            } catch (error) {
              checks.push({ name: "store", ok: false, detail: error instanceof Error ? error.message : String(error) });
            }
            const skipped = listeners.skipped.map((s) => `${s.protocol}:${s.port}`);
            checks.push({ name: "listeners", ok: skipped.length === 0 && listeners.bound.length > 0, detail: `${listeners.bound.length} bound${skipped.length > 0 ? `, skipped ${skipped.join(" ")}` : ""}` });
            return checks;
          },
          metrics,
          ...(config.tls.certFile !== null && config.tls.keyFile !== null ? { signProfile: createProfileSigner({ certFile: config.tls.certFile, keyFile: config.tls.keyFile }, log.child({ component: "http" })) } : {}),
          log: log.child({ component: "http" }),
          ...(adminWeb ? { admin: adminWeb.web } : {}),
          ...(acmeChallenges === null ? {} : { acmeChallenges }),
          ...(acceptsTlsReportUploads(config, opened)
            ? {
                tlsReports: createTlsReportIntake({
                  store: opened.tlsReports!,
                  maxBytes: config.http.tlsReportMaxSize,
                  log: log.child({ component: "tlsrpt" }),
                  observe: (outcome, report) => metrics.tlsReport(outcome, report?.policies ?? []),
                }),
              }
            : {}),
        },
        sniCallback: tls.sniCallback,
        defaultTls: { options: () => tls.defaultContextOptions("client"), onChange: (listener) => tls.onDefaultChange(listener) },
        onTlsError: () => metrics.tlsHandshake("https", false),
        ...(config.http.proxyProtocol ? { proxyProtocol: { trusted: config.server.proxyProtocolTrusted, timeoutMs: config.limits.proxyProtocolTimeout } } : {}),
      });
    }
    httpRef = http;
    try {
      // The privilege drop chowns the data dir (the lock file and control socket included) to server.user.
      hooks.afterBind?.();
    } catch (error) {
      await http?.close();
      await listeners.close();
      throw error;
    }
    const controlServer = control;
    let stopping: Promise<void> | null = null;
    const stop = (reason: string) => {
      stopping ??= (async () => {
        log.info("server.stopping", { reason, connections: listeners.connectionCount() });
        // A long `mailroom migrate` ends at its next page, its progress recorded (resumable), instead of holding the stop.
        longOperations.abort();
        // Admin commands in progress finish; new ones find no server and wait for the lock.
        await controlServer.close();
        await acmeManager?.stop();
        await http?.close();
        await listeners.close();
        await listeners.drain(config.shutdown.gracePeriod);
        // Attempts in flight finish and record their results; nothing new is leased.
        await tlsRptSender?.stop();
        await outbound.stop(config.shutdown.gracePeriod);
        if (abusePruner) clearInterval(abusePruner);
        await clusterConnections?.stop();
        // After the last delivery attempt: the running minute and the waiting deliveries are written.
        await adminWeb?.stop();
        await deliveries.stop();
        await opened.close();
        loop.stop();
        lock.release();
        log.info("server.stopped", { reason });
      })();
      return stopping;
    };
    store.startCollector?.();
    await outbound.start();
    tlsRptSender?.start();
    acmeManager?.start();
    return { config, store: opened, tls, listeners, outbound, control: controlServer, http, metrics, acme: acmeManager, stop };
  } catch (err) {
    operationsFailed(err instanceof Error ? err : new Error(String(err)));
    await control?.close();
    await store?.close();
    loop.stop();
    lock.release();
    throw err;
  }
}
