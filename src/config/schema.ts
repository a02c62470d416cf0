// The typed configuration: one interface per TOML section (keys are snake_case in the file and
// camelCase here) and, beside it, the spec that gives every key its kind, default and one-line
// description. The loader, the rendered default file and the README reference all read these specs,
// so a key cannot exist without a default and a description.

import { join } from "node:path";
import type { Limits } from "./limits.js";
import { LIMITS_SPEC } from "./limits.js";
import { boolean, cidr, computedKey, decimal, duration, hostPort, integer, key, listOf, oneOf, optional, size, tableOf, text, type HostPort, type SectionSpec } from "./value-kinds.js";

export type LogLevelSetting = "debug" | "info" | "warn" | "error";
export type ListenerProtocol = "smtp" | "submission" | "submissions" | "imap" | "imaps" | "pop3" | "pop3s" | "managesieve";
export type ListenerTls = "none" | "starttls" | "implicit";
export type Pop3ModeSetting = "keep" | "delete-after-retrieve";

export interface ServerSettings {
  hostname: string;
  /** Absolute path. */
  dataDir: string;
  logLevel: LogLevelSetting;
  /** Added to a port that cannot be bound (EACCES, EADDRINUSE); 0 (default) fails the start instead. */
  portFallbackOffset: number;
  /** Started as root, the server runs as this user after binding; null: "mailroom" (server/privileges.ts). */
  user: string | null;
  /** Load balancers (CIDR) that must open each connection with a PROXY protocol header; empty: off. */
  proxyProtocolTrusted: string[];
}

export interface ListenerConfig {
  protocol: ListenerProtocol;
  port: number;
  address: string;
  tls: ListenerTls;
  /** false: this listener ignores server.proxy_protocol_trusted (absent means true). */
  proxyProtocol?: boolean;
}

export interface TlsSettings {
  /** Absolute path, or null: then a self-signed certificate is generated into the data dir. */
  certFile: string | null;
  keyFile: string | null;
  minVersion: "TLSv1.2" | "TLSv1.3";
  allowPlaintextAuth: boolean;
  allowPlaintextAuthOnLoopback: boolean;
  /** "intermediate", "broad", or an OpenSSL cipher string: submission, submissions, imap(s), pop3(s). */
  ciphersClient: string;
  /** The same for port 25 (smtp), where other mail servers connect. */
  ciphersMx: string;
}

export interface AuthSettings {
  /** Milliseconds. */
  throttleBaseDelay: number;
  throttleMaxDelay: number;
  throttleLockoutIp: number;
  throttleLockoutAccount: number;
  throttleWindow: number;
  argon2MemoryKib: number;
  argon2TimeCost: number;
  argon2Parallelism: number;
  /** PBKDF2 iterations of SCRAM keys (RFC 5802 §5.1 "i"), taken when an account's salt is made; existing accounts move to it at their next PLAIN/LOGIN (auth/credentials.ts convergeMainScramIterations). */
  scramIterations: number;
}

export type DmarcFailureModeSetting = "follow-policy" | "reject" | "quarantine" | "none";

/** Mail received on port 25 from other servers. */
export interface InboundSettings {
  dmarcFailureMode: DmarcFailureModeSetting;
  ownDomainUnauthenticated: "quarantine" | "reject" | "accept";
  /** CIDR networks whose mail is not held to the own-domain spoofing verdict (Postfix's mynetworks). */
  trustedNetworks: string[];
  /** Bytes: a TLS-RPT report part, and its JSON once decompressed. */
  tlsReportMaxSize: number;
}

export interface Pop3Settings {
  defaultMode: Pop3ModeSetting;
  markSeenOnRetr: boolean;
}

export interface StoreSettings {
  backend: "sqlite" | "postgresql";
  groupCommit: boolean;
  /** PostgreSQL backend: postgres://user@host:port/database (the password from password_env or password_file). */
  url: string | null;
  passwordEnv: string | null;
  passwordFile: string | null;
  maxConnections: number;
}

export interface ShutdownSettings {
  /** Milliseconds. */
  gracePeriod: number;
}

export type SmarthostTls = "starttls" | "implicit" | "none";

export interface OutboundSettings {
  /** Queue entries attempted at the same time. */
  workers: number;
  /** Connections open at the same time to one destination (MX host, route or smarthost). */
  perDestination: number;
  /** Messages a minute to one recipient domain; 0 is unlimited. */
  perDestinationRate: number;
  /** Milliseconds. */
  connectTimeout: number;
  commandTimeout: number;
  /** How long a claimed queue entry stays with its node (ms); 0: connect_timeout + 4 × command_timeout + 60 s. */
  lease: number;
  /** Delays between attempts, in order; the last repeats until the lifetime ends. Milliseconds. */
  retrySchedule: number[];
  maxLifetime: number;
  /** 0 disables delay warnings. Milliseconds. */
  delayWarning: number;
  requireTls: boolean;
  /** Honour recipient domains' MTA-STS policies (RFC 8461). */
  mtaSts: boolean;
  /** The port MX hosts and A/AAAA fallbacks are reached on; 25 except in tests. */
  remotePort: number;
  smarthost: HostPort | null;
  smarthostTls: SmarthostTls;
  smarthostUsername: string | null;
  /** Absolute path of a file holding the smarthost password, or null. */
  smarthostPasswordFile: string | null;
  /** Recipient domain → host[:port], tried before MX lookup. */
  routes: Record<string, HostPort>;
  dkimSelector: string;
  /** Absolute path, or null for <data_dir>/dkim. */
  dkimKeyDir: string | null;
  /** "ip" or "ip:port" of DNS servers for outbound lookups and inbound SPF/DKIM/DMARC; empty for the system's. */
  dnsServers: string[];
  /** "ip" or "ip:port" of a validating resolver whose AD bit is trusted: DANE on (RFC 7672); null: off. */
  dnssecResolver: string | null;
  /** Send daily TLS-RPT reports (RFC 8460) to the recipient domains that ask for them. */
  tlsRpt: boolean;
  /** organization-name of the reports; null is server.hostname. */
  tlsRptOrganization: string | null;
  /** contact-info of the reports; null is the From address. */
  tlsRptContact: string | null;
  /** From (and MAIL FROM) of report mail, DKIM-signed with its domain's key; null is postmaster@ the first local domain. */
  tlsRptFrom: string | null;
}

/** The HTTP(S) service: mail-app autoconfiguration, MTA-STS policy, health and metrics (src/http/). */
export interface HttpSettings {
  enabled: boolean;
  address: string;
  /** Plain HTTP port, or null for none. */
  httpPort: number | null;
  /** HTTPS port (the TLS listeners' certificates, by SNI), or null for none. */
  httpsPort: number | null;
  /** Peers (CIDR) whose X-Forwarded-For/-Proto/-Host are believed: the reverse proxy in front. */
  trustedProxies: string[];
  /** Bytes. */
  bodyLimit: number;
  maxHeaderSize: number;
  /** Milliseconds. */
  headersTimeout: number;
  requestTimeout: number;
  /** Bearer token for /metrics, or null: then only loopback peers may read it. */
  metricsToken: string | null;
  mtaStsMode: "enforce" | "testing" | "none";
  /** Seconds. */
  mtaStsMaxAge: number;
  /** MX names (patterns) of the policy; empty: server.hostname. */
  mtaStsMx: string[];
  /** false: the HTTP(S) ports ignore server.proxy_protocol_trusted. */
  proxyProtocol: boolean;
  /** Accept TLS-RPT reports POSTed to TLS_REPORT_PATH (RFC 8460 §5.2); `mailroom dns` then lists the https rua. */
  tlsReports: boolean;
  /** Bytes: of the POSTed report, and of its JSON once decompressed. */
  tlsReportMaxSize: number;
  /** Reports one client address may POST per hour; 0: no limit. */
  tlsReportsPerHour: number;
  /** The admin API (/api/v1), admin pages (/admin) and account self-service (/account): http/admin-api.ts. */
  admin: boolean;
  /** Milliseconds a browser session lives without use (idle), and at most in all. */
  adminSessionIdle: number;
  adminSessionMax: number;
  /** Bytes: the largest JSON body of /api/v1 and /account. */
  adminBodyLimit: number;
  /** Recent deliveries kept (in the store) for the admin pages' delivery log. */
  adminDeliveryLog: number;
  /** Days a new API token is valid unless the request says otherwise; 0: no expiry. */
  adminTokenDays: number;
}

export interface Config {
  /** The file the settings came from, or null for zero-config defaults. */
  sourceFile: string | null;
  server: ServerSettings;
  listeners: ListenerConfig[];
  tls: TlsSettings;
  limits: Limits;
  auth: AuthSettings;
  inbound: InboundSettings;
  pop3: Pop3Settings;
  imap: ImapSettings;
  store: StoreSettings;
  shutdown: ShutdownSettings;
  outbound: OutboundSettings;
  http: HttpSettings;
  sieve: SieveSettings;
  spam: SpamSettings;
  abuse: AbuseSettings;
  acme: AcmeConfig;
  managesieve: ManageSieveSettings;
  quota: QuotaSettings;
}

/** Default RFC 9208 quota of accounts without their own (store/quota.ts); 0 = unlimited. */
export interface QuotaSettings {
  /** Bytes (STORAGE, reported in KiB). */
  storage: number;
  /** Messages (MESSAGE). */
  messages: number;
  /** Usage percentage of either limit at which the user gets one warning message; 0 = never. */
  warningPercent: number;
}

/** ManageSieve (RFC 5804, src/managesieve/): what one client may send and how long it may idle. */
export interface ManageSieveSettings {
  /** Longest command line outside literals, CRLF included. */
  lineLength: number;
  /** Longest quoted string (RFC 5804 §4: at most 1024 octets). */
  maxQuotedBytes: number;
  /** Largest literal read; a larger one is read past (never buffered) and the command refused. */
  maxLiteralBytes: number;
  /** Milliseconds. */
  idle: number;
  unauthenticatedIdle: number;
  commandDeadline: number;
  maxAuthFailures: number;
  maxErrors: number;
}

/** ACME certificates (RFC 8555, src/net/acme.ts). */
export interface AcmeConfig {
  enabled: boolean;
  directoryUrl: string;
  contact: string[];
  names: string[];
  domainNames: boolean;
  challenges: ("http-01" | "tls-alpn-01")[];
  keyType: "ecdsa" | "rsa";
  directoryCaFile: string | null;
  /** Milliseconds. */
  retryMin: number;
  retryMax: number;
  /** Milliseconds; PostgreSQL backend only. */
  sharedCheckInterval: number;
}

/** Outbound abuse limits for authenticated senders (src/abuse/send-limits.ts). */
export interface AbuseSettings {
  messagesPerHour: number;
  recipientsPerMessage: number;
  recipientsPerDay: number;
  domainMessagesPerHour: number;
  maxFailedRatio: number;
  failedRatioMinRecipients: number;
  suspendAfterRefusals: number;
}

/** The inbound spam verdict (src/spam/scanner.ts): DNS lists, iprev, authentication, heuristics. */
export interface SpamSettings {
  enabled: boolean;
  /** Zone -> score added when the client address is listed (DNSBL); negative for allow lists (DNSWL). */
  dnsbl: Record<string, number>;
  /** Zone -> score added when a link domain is listed (URIBL-style, e.g. dbl.spamhaus.org). */
  uribl: Record<string, number>;
  /** "zone/127.0.0.x" -> score for that return code, replacing the zone's score (Spamhaus ZEN's SBL/XBL/PBL). */
  dnsblCodes: Record<string, number>;
  iprev: boolean;
  /** Milliseconds: deadline of each DNS lookup of one message (they run in parallel). */
  dnsTimeout: number;
  junkScore: number;
  /** 0 turns refusing off. */
  rejectScore: number;
  addHeaders: boolean;
  /** Clients never scanned (the machine itself, the office network). */
  exemptNetworks: string[];
  /** Test name -> score, replacing the built-in weight. */
  scores: Record<string, number>;
  /** The per-account statistical classifier (spam/bayes.ts), trained by moves into and out of Junk. */
  bayes: boolean;
  /** Trained messages of each class an account needs before its classifier says anything. */
  bayesMinMessages: number;
  /** Our domains whose inbound mail is greylisted ("*": all); empty: off. */
  greylistDomains: string[];
  /** Milliseconds. */
  greylistDelay: number;
  greylistRetryWindow: number;
  greylistWhitelistPeriod: number;
  /** Only messages scoring at least this are greylisted. */
  greylistMinScore: number;
  /** rspamd's normal worker ("http://127.0.0.1:11333"); null: no external scanner. */
  rspamdUrl: string | null;
  /** Milliseconds. */
  rspamdTimeout: number;
  rspamdFailure: "accept" | "tempfail";
  rspamdWeight: number;
  rspamdMaxSize: number;
  /** Milliseconds before the port 25 greeting; a client talking meanwhile is refused. 0: none. */
  greetPause: number;
  /** Messages per hour one client address may start on port 25; 0: unlimited. */
  ipMessagesPerHour: number;
}

/** IMAP server settings; limits on what one command may ask (every client-controlled size has a key). */
export interface ImapSettings {
  /** Deepest nesting of NOT, OR and parenthesised lists in one SEARCH (deeper: BAD). */
  searchMaxDepth: number;
  /** Search keys in one SEARCH program (more: BAD). */
  searchMaxKeys: number;
  /** RFC 5267 §4.3.1: live SEARCH/SORT RETURN (UPDATE) contexts per session (more: NO [NOUPDATE]). */
  searchMaxUpdateContexts: number;
  /** RFC 5464 METADATA: octets of one entry value (larger: NO [METADATA MAXSIZE]). */
  metadataMaxEntrySize: number;
  /** RFC 5464 METADATA: entries on one mailbox, or one user's server entries (more: NO [METADATA TOOMANY]). */
  metadataMaxEntries: number;
  /** RFC 5464 METADATA: octets of entry names and values per account (more: NO [METADATA TOOMANY]). */
  metadataMaxAccountSize: number;
  /** RFC 9738 MESSAGELIMIT: messages one command may process (advertised MESSAGELIMIT=n); 0: no limit, not advertised. */
  messageLimit: number;
  /** RFC 9208 SETQUOTA: login addresses allowed to set any account's quota over IMAP; empty: nobody. */
  quotaAdmins: string[];
}

/** Sieve filtering at local delivery (src/delivery/sieve-filter.ts) and its limits. */
export interface SieveSettings {
  maxScriptBytes: number;
  maxScripts: number;
  maxActions: number;
  maxRedirects: number;
  maxRedirectsPerDay: number;
  maxNesting: number;
  maxVariableBytes: number;
  maxMessageBytes: number;
  vacationMinPeriod: number;
  vacationMaxPeriod: number;
  vacationDefaultPeriod: number;
  maxRegexStates: number;
  maxRegexSteps: number;
  maxIncludeDepth: number;
  duplicateDefaultPeriod: number;
  duplicateMaxPeriod: number;
  editheaderMaxHeaderBytes: number;
  editheaderMaxEdits: number;
}

export const SERVER_SPEC: SectionSpec<ServerSettings> = {
  hostname: computedKey(text(), (context) => context.hostname, "this machine's FQDN (as hostname -f), else its host name", "name used in greetings, Received fields, the self-signed certificate and as MX target; a public MX needs a fully qualified name that resolves"),
  dataDir: computedKey(text(), (context) => join(context.cwd, "data"), '"./data"', "directory of the database, message files and generated certificate (relative to the working directory)"),
  logLevel: key(oneOf(["debug", "info", "warn", "error"] as const), "info", "least severe log level written"),
  portFallbackOffset: key(integer({ min: 0, max: 65_535 }), 0, "when a port cannot be bound (EACCES, EADDRINUSE), bind port + this instead (`npm start` sets 10000 through MAILROOM_PORT_FALLBACK_OFFSET); 0 fails the start naming the port and the fix"),
  user: key(optional(text()), null, 'started as root: the user the server runs as once its ports are bound ("mailroom" when not set; created if missing), owner of the data directory; ignored when not started as root'),
  proxyProtocolTrusted: key(
    listOf(cidr(), { max: 1000 }),
    [],
    "load balancers (CIDR) whose connections must start with a PROXY protocol v1 or v2 header naming the client (HAProxy send-proxy / send-proxy-v2); the client's address is then used in logs, Received fields, limits, throttling and SPF. A header from any other peer is refused. Empty: off",
  ),
};

export const TLS_SPEC: SectionSpec<TlsSettings> = {
  certFile: key(optional(text()), null, "PEM certificate chain; with key_file, or neither for a generated self-signed certificate"),
  keyFile: key(optional(text()), null, "PEM private key of cert_file"),
  minVersion: key(oneOf(["TLSv1.2", "TLSv1.3"] as const), "TLSv1.2", "oldest TLS version accepted"),
  allowPlaintextAuth: key(boolean(), false, "allow passwords over connections without TLS (RFC 8314 advises against)"),
  allowPlaintextAuthOnLoopback: key(boolean(), false, "allow passwords without TLS from 127.0.0.1 and ::1 only"),
  ciphersClient: key(
    text(),
    "intermediate",
    'cipher suites of the listeners mail apps use (submission, submissions, imap, imaps, pop3, pop3s, managesieve): "intermediate" (Mozilla\'s profile: TLS 1.3, and for TLS 1.2 only ECDHE/DHE with AEAD), "broad", or an OpenSSL cipher string (TLS 1.3 suites added when it names none)',
  ),
  ciphersMx: key(
    text(),
    "broad",
    'cipher suites of port 25 (smtp), where other mail servers connect: "broad" (intermediate first, then CBC and static-RSA suites, since opportunistic TLS beats plaintext for old MTAs), "intermediate", or an OpenSSL cipher string',
  ),
};

export const AUTH_SPEC: SectionSpec<AuthSettings> = {
  throttleBaseDelay: key(duration({ maxMs: 60_000 }), 200, "delay after the first failed login, doubled per further failure"),
  throttleMaxDelay: key(duration({ maxMs: 600_000 }), 15_000, "longest delay after failed logins"),
  throttleLockoutIp: key(integer({ min: 1, max: 1_000_000 }), 10, "failed logins from one IP within the window before it is locked out"),
  throttleLockoutAccount: key(integer({ min: 1, max: 1_000_000 }), 20, "failed logins for one account within the window before it is locked out"),
  throttleWindow: key(duration({ minMs: 1000, maxMs: 86_400_000 }), 15 * 60_000, "window over which failed logins are counted"),
  argon2MemoryKib: key(integer({ min: 1024, max: 4 * 1024 * 1024 }), 19_456, "Argon2id memory cost in KiB for new password hashes"),
  argon2TimeCost: key(integer({ min: 1, max: 100 }), 2, "Argon2id iterations for new password hashes"),
  argon2Parallelism: key(integer({ min: 1, max: 64 }), 1, "Argon2id lanes for new password hashes"),
  scramIterations: key(integer({ min: 4096, max: 1_000_000 }), 4096, "SCRAM-SHA-1/-256 PBKDF2 iterations for accounts whose SCRAM salt is made from now on, and for existing accounts at their next PLAIN/LOGIN with the main password (not accounts with app passwords) (RFC 7677 §4: at least 4096)"),
};

export const INBOUND_SPEC: SectionSpec<InboundSettings> = {
  dmarcFailureMode: key(
    oneOf(["follow-policy", "reject", "quarantine", "none"] as const),
    "follow-policy",
    'what to do with mail failing DMARC (RFC 7489 §6.6): "follow-policy" applies the sender domain\'s p= (reject, quarantine to Junk, none); the others override it',
  ),
  ownDomainUnauthenticated: key(
    oneOf(["quarantine", "reject", "accept"] as const),
    "quarantine",
    "mail from outside claiming one of our domains in From:, when that domain publishes no DMARC record and neither SPF nor DKIM passes",
  ),
  // Loopback by default, as Postfix's mynetworks_style=host: the machine's own scripts and
  // monitoring send "from" our domains without SPF or DKIM. Relaying is not implied.
  trustedNetworks: key(
    listOf(cidr(), { max: 1000 }),
    ["127.0.0.0/8", "::1/128"],
    "networks (CIDR) whose mail on port 25 is exempt from own_domain_unauthenticated, like Postfix's mynetworks; relaying stays off for them",
  ),
  tlsReportMaxSize: key(size({ min: 1024, max: 256 * 1024 * 1024 }), 5 * 1024 * 1024, "largest TLS-RPT report (RFC 8460) read from mail to a postmaster, both as sent and once decompressed; larger ones are delivered but not read"),
};

export const POP3_SPEC: SectionSpec<Pop3Settings> = {
  defaultMode: key(oneOf(["keep", "delete-after-retrieve"] as const), "keep", "what RETR means for new accounts: keep messages, or delete them at QUIT after retrieval"),
  markSeenOnRetr: key(boolean(), true, "RETR marks the message \\Seen for IMAP users"),
};

export const IMAP_SPEC: SectionSpec<ImapSettings> = {
  searchMaxDepth: key(integer({ min: 4, max: 1000 }), 64, "deepest nesting of NOT, OR and parenthesised lists in one IMAP SEARCH; deeper is answered BAD (each level is a stack frame while parsing and evaluating)"),
  searchMaxKeys: key(integer({ min: 16, max: 100_000 }), 1000, "search keys in one IMAP SEARCH; more is answered BAD (bounds the work per message)"),
  searchMaxUpdateContexts: key(integer({ min: 1, max: 1000 }), 8, "live IMAP SEARCH/SORT RETURN (UPDATE) contexts per session (RFC 5267 CONTEXT=SEARCH/SORT); more are answered NO [NOUPDATE] (each re-runs its search when the mailbox changes)"),
  metadataMaxEntrySize: key(size({ min: 1024, max: 16 * 1024 * 1024 }), 64 * 1024, "largest IMAP METADATA value (RFC 5464); larger is answered NO [METADATA MAXSIZE]"),
  metadataMaxEntries: key(integer({ min: 1, max: 100_000 }), 100, "IMAP METADATA entries on one mailbox (all users), or one user's server entries; more is answered NO [METADATA TOOMANY]"),
  metadataMaxAccountSize: key(size({ min: 1024, max: 1024 * 1024 * 1024 }), 1024 * 1024, "octets of IMAP METADATA names and values one account may hold; more is answered NO [METADATA TOOMANY]"),
  messageLimit: key(integer({ min: 0, max: 100_000_000 }), 0, "messages one IMAP FETCH/STORE/SEARCH/MOVE/UID EXPUNGE processes (the highest UIDs, the rest left for the client to ask again: OK [MESSAGELIMIT n uid]) and COPY/APPEND/SORT/THREAD may name (more: NO [MESSAGELIMIT n]), advertised as MESSAGELIMIT=n (RFC 9738); 0: no limit, not advertised (clients that do not know the extension would see partial results)"),
  quotaAdmins: key(listOf(text(), { max: 100 }), [], "accounts (login addresses) that may set any account's STORAGE/MESSAGE quota over IMAP with SETQUOTA (RFC 9208, QUOTASET advertised when not empty); empty: nobody, quotas are set with `mailroom user quota`"),
};

export const STORE_SPEC: SectionSpec<StoreSettings> = {
  backend: key(oneOf(["sqlite", "postgresql"] as const), "sqlite", "mail store backend: sqlite (embedded, in server.data_dir) or postgresql (shared by any number of nodes)"),
  groupCommit: key(boolean(), true, "batch concurrent deliveries into one fsync (sqlite)"),
  url: key(optional(text()), null, "postgresql: postgres://user@host:port/database; put the password in password_env or password_file, not here"),
  passwordEnv: key(optional(text()), null, "postgresql: name of the environment variable holding the database password"),
  passwordFile: key(optional(text()), null, "postgresql: file whose first line is the database password"),
  maxConnections: key(integer({ min: 1, max: 1000 }), 20, "postgresql: connections in each node's pool"),
};

export const SHUTDOWN_SPEC: SectionSpec<ShutdownSettings> = {
  gracePeriod: key(duration({ maxMs: 600_000 }), 10_000, "time open sessions get to finish after a stop signal"),
};

const DAY_MS = 86_400_000;

export const SIEVE_SPEC: SectionSpec<SieveSettings> = {
  maxScriptBytes: key(integer({ min: 1024, max: 10 * 1024 * 1024 }), 64 * 1024, "largest Sieve script an account may store"),
  maxScripts: key(integer({ min: 1, max: 10_000 }), 20, "Sieve scripts one account may store"),
  maxActions: key(integer({ min: 1, max: 1000 }), 32, "actions one script run may take; more files the message in INBOX"),
  maxRedirects: key(integer({ min: 0, max: 100 }), 4, "redirects one script run may make for one message"),
  maxRedirectsPerDay: key(integer({ min: 0, max: 1_000_000 }), 100, "redirects one account's scripts may make per UTC day (counted in memory: a restart starts the count again); more are kept in INBOX"),
  maxNesting: key(integer({ min: 2, max: 200 }), 32, "deepest nesting of blocks and tests in a script"),
  maxVariableBytes: key(integer({ min: 64, max: 1024 * 1024 }), 4096, "longest value of a Sieve variable (RFC 5229); longer ones are truncated"),
  maxMessageBytes: key(integer({ min: 1024, max: 256 * 1024 * 1024 }), 1024 * 1024, "bytes of a message read for header and body tests"),
  vacationMinPeriod: key(duration({ minMs: 0, maxMs: 365 * DAY_MS }), DAY_MS, "shortest vacation :days/:seconds period honoured (RFC 6131 allows 0 only when asked for)"),
  vacationMaxPeriod: key(duration({ minMs: 1000, maxMs: 365 * DAY_MS }), 90 * DAY_MS, "longest vacation period honoured"),
  vacationDefaultPeriod: key(duration({ minMs: 1000, maxMs: 365 * DAY_MS }), 7 * DAY_MS, "vacation period when the script names none (RFC 5230 §4.1)"),
  maxRegexStates: key(integer({ min: 100, max: 1_000_000 }), 10_000, "largest compiled :regex pattern (states of the linear-time matcher); a larger one is a script error"),
  maxRegexSteps: key(integer({ min: 10_000, max: 1_000_000_000 }), 5_000_000, "matcher steps all :regex tests of one script run may take (time is linear in pattern x text); past it the message is kept in INBOX"),
  maxIncludeDepth: key(integer({ min: 1, max: 100 }), 10, "scripts included within one another (RFC 6609); deeper, or a circular include, keeps the message in INBOX"),
  duplicateDefaultPeriod: key(duration({ minMs: 1000, maxMs: 365 * DAY_MS }), 12 * 3_600_000, "how long the duplicate test (RFC 7352) remembers an ID when the script gives no :seconds"),
  duplicateMaxPeriod: key(duration({ minMs: 1000, maxMs: 365 * DAY_MS }), 7 * DAY_MS, "longest duplicate :seconds honoured (RFC 7352 §3.3 lets the site clamp it)"),
  // RFC 5293 §4 lets the site bound an added field (Pigeonhole: 2048 by default, at least 1024).
  editheaderMaxHeaderBytes: key(integer({ min: 1024, max: 64 * 1024 }), 2048, "longest value an addheader (RFC 5293) may add; longer fails the script and keeps the message as received in INBOX"),
  editheaderMaxEdits: key(integer({ min: 1, max: 10_000 }), 64, "addheader/deleteheader commands one script run may execute; more fail the script and keep the message as received in INBOX"),
};

export const MANAGESIEVE_SPEC: SectionSpec<ManageSieveSettings> = {
  lineLength: key(size({ min: 1024, max: 1024 * 1024 }), 8 * 1024, "longest ManageSieve command line outside literals, CRLF included"),
  // RFC 5804 §4: quoted = DQUOTE *1024QUOTED-CHAR DQUOTE.
  maxQuotedBytes: key(size({ min: 1024, max: 1024 * 1024 }), 1024, "longest ManageSieve quoted string (RFC 5804 §4: 1024 octets)"),
  maxLiteralBytes: key(size({ min: 1024, max: 256 * 1024 * 1024 }), 1024 * 1024, "largest ManageSieve literal ({n+} or {n}) read; a larger one is skipped unread and answered NO (QUOTA/MAXSIZE); scripts are further bound by sieve.max_script_bytes"),
  idle: key(duration({ minMs: 1000, maxMs: 24 * 3_600_000 }), 10 * 60_000, "ManageSieve idle time of a logged-in session"),
  unauthenticatedIdle: key(duration({ minMs: 1000, maxMs: 3_600_000 }), 60_000, "ManageSieve idle time before login"),
  commandDeadline: key(duration({ minMs: 1000, maxMs: 3_600_000 }), 5 * 60_000, "time a client has to finish sending one ManageSieve command, literals included"),
  maxAuthFailures: key(integer({ min: 1, max: 100 }), 3, "failed AUTHENTICATE commands on one ManageSieve connection before it is closed with BYE"),
  maxErrors: key(integer({ min: 1, max: 1000 }), 20, "refused ManageSieve commands (syntax, unknown, wrong state) on one connection before it is closed with BYE"),
};

export const QUOTA_SPEC: SectionSpec<QuotaSettings> = {
  storage: key(size({ min: 0 }), 0, 'default storage quota of accounts without their own (`mailroom user quota`), e.g. "2G"; 0 = unlimited'),
  messages: key(integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), 0, "default message-count quota of accounts without their own; 0 = unlimited"),
  warningPercent: key(integer({ min: 0, max: 100 }), 90, "usage (percent of either quota) at which the user gets one warning message in INBOX, again only after dropping below it; 0 = never"),
};

export const SPAM_SPEC: SectionSpec<SpamSettings> = {
  enabled: key(boolean(), true, "score inbound mail (port 25) and act on the score: X-Spam-* headers, Junk, refusal"),
  // Empty by default, as Postfix ships: public lists such as Spamhaus refuse queries that come
  // through public resolvers (answering 127.255.255.254), so a list only helps once the operator
  // knows which resolver asks it. The README shows a typical set.
  dnsbl: key(tableOf(decimal({ min: -100, max: 100 })), {}, 'DNS lists for the client address and the score a listing adds, e.g. { "zen.spamhaus.org" = 7.0, "list.dnswl.org" = -2.0 }'),
  uribl: key(tableOf(decimal({ min: -100, max: 100 })), {}, 'DNS lists for the domains of links in the message, e.g. { "dbl.spamhaus.org" = 5.0 }'),
  // Spamhaus ZEN answers 127.0.0.2-3 (SBL), .4-.7 (XBL, exploited hosts) and .10-.11 (PBL, end-user
  // ranges that should not send directly): different evidence, so each code can weigh differently.
  dnsblCodes: key(tableOf(decimal({ min: -100, max: 100 })), {}, 'scores for single return codes of a DNS list, replacing its score in spam.dnsbl, e.g. { "zen.spamhaus.org/127.0.0.10" = 2.0 }; with several codes the highest counts'),
  iprev: key(boolean(), true, "check that the client's reverse DNS name resolves back to its address (RFC 8601 iprev); a failure adds IPREV_FAIL"),
  dnsTimeout: key(duration({ minMs: 100, maxMs: 60_000 }), 3000, "deadline of each DNS list or iprev lookup; a list that does not answer in time counts as not listed"),
  junkScore: key(decimal({ min: 0, max: 1000 }), 6, "score from which a message is filed in Junk with the $Junk keyword"),
  rejectScore: key(decimal({ min: 0, max: 1000 }), 15, "score from which a message is refused at DATA (550 5.7.1); 0 never refuses"),
  addHeaders: key(boolean(), true, "add X-Spam-Status and X-Spam-Score (SpamAssassin's layout) to scanned messages"),
  // The machine's own scripts and monitoring, as inbound.trusted_networks.
  exemptNetworks: key(listOf(cidr(), { max: 1000 }), ["127.0.0.0/8", "::1/128"], "client networks (CIDR) whose mail is not scanned"),
  scores: key(tableOf(decimal({ min: -1000, max: 1000 })), {}, 'scores replacing the built-in weight of named tests, e.g. { MISSING_DATE = 2.0, SPF_FAIL = 5.0 }'),
  bayes: key(boolean(), true, "per-account statistical classifier: moving a message into Junk trains it as spam, out of Junk (not to Trash) as ham; adds BAYES_* tests"),
  // SpamAssassin's bayes_min_spam_num/bayes_min_ham_num default to 200; a personal mailbox
  // trained by hand reaches that rarely, and Robinson's prior keeps a small corpus from
  // overreacting, so a lower bar gives users a classifier that helps within days.
  bayesMinMessages: key(integer({ min: 1, max: 100_000 }), 20, "trained spam and ham messages (each) an account needs before its classifier is used"),
  // Off by default: greylisting delays first mail from every new sender, which users notice; it
  // is worth it for domains drowning in spam, and the operator decides which.
  greylistDomains: key(listOf(text(), { max: 10_000 }), [], 'our domains whose inbound mail is greylisted (RFC 6647), or ["*"] for all; empty turns greylisting off'),
  greylistDelay: key(duration({ minMs: 1000, maxMs: DAY_MS }), 5 * 60_000, "how long a new (client network, sender, recipient) must wait before its retry is accepted"),
  greylistRetryWindow: key(duration({ minMs: 60_000, maxMs: 30 * DAY_MS }), 2 * DAY_MS, "how long a greylisted triplet waits for its retry before it starts over"),
  greylistWhitelistPeriod: key(duration({ minMs: 60_000, maxMs: 365 * DAY_MS }), 35 * DAY_MS, "how long a client network and sender domain that retried correctly skip greylisting"),
  greylistMinScore: key(decimal({ min: -1000, max: 1000 }), 0, "only messages with at least this spam score are greylisted (DKIM- or DMARC-authenticated mail never is)"),
  rspamdUrl: key(optional(text()), null, 'rspamd\'s normal worker, e.g. "http://127.0.0.1:11333": every scanned message is also checked there (POST /checkv2) and its score added; not set: no rspamd'),
  rspamdTimeout: key(duration({ minMs: 100, maxMs: 300_000 }), 15_000, "time rspamd has to answer for one message"),
  // Fail open by default: a scanner outage should cost filtering, not mail; "tempfail" suits
  // sites where unscanned mail must never reach a user (senders retry for days).
  rspamdFailure: key(oneOf(["accept", "tempfail"] as const), "accept", 'when rspamd is down or fails: "accept" scores without it (logged), "tempfail" answers 451 4.7.1 so the sender retries'),
  rspamdWeight: key(decimal({ min: 0, max: 10 }), 1, "factor applied to rspamd's score before it is added as the RSPAMD test (rspamd's own SPF/DKIM/RBL checks overlap ours: lower it, or turn our lists off, to avoid counting twice)"),
  rspamdMaxSize: key(size({ min: 1024, max: 1024 ** 3 }), 20 * 1024 * 1024, "larger messages are not sent to rspamd (as rspamd's own max_message)"),
  // Off by default: the pause delays every inbound connection; Postfix's postscreen uses 6s.
  greetPause: key(duration({ maxMs: 60_000 }), 0, "pause before the port 25 greeting; a client that talks before it gets 554 5.5.1 (early-talker test, as Postfix postscreen); exempt networks skip it; 0 turns it off"),
  // Off by default: a big provider's outbound host sends us many messages an hour legitimately.
  ipMessagesPerHour: key(integer({ min: 0, max: 10_000_000 }), 0, "messages one client address may start on port 25 in an hour (counted at MAIL); more get 451 4.7.1; exempt networks are not counted; 0 is unlimited"),
};

// Defaults in the range large providers publish for personal accounts (Gmail: 500 recipients a
// day for a free account, 2,000 for a paid one): generous for a person, small for a spam run.
export const ABUSE_SPEC: SectionSpec<AbuseSettings> = {
  messagesPerHour: key(integer({ min: 0, max: 10_000_000 }), 200, "messages one account may submit in an hour; more get 451 4.7.1; 0 is unlimited"),
  recipientsPerMessage: key(integer({ min: 0, max: 100_000 }), 100, "recipients one account may give one message (below limits.max_recipients for everyone); more get 451 4.7.1; 0 is unlimited"),
  recipientsPerDay: key(integer({ min: 0, max: 100_000_000 }), 1000, "recipients one account may send to in a day (local and remote); more get 451 4.7.1; 0 is unlimited"),
  domainMessagesPerHour: key(integer({ min: 0, max: 100_000_000 }), 5000, "messages all accounts of one sender domain may submit in an hour; 0 is unlimited"),
  maxFailedRatio: key(decimal({ min: 0, max: 1 }), 0.3, "share of an account's remote recipients refused by their servers (5xx) in a day above which its sending pauses (451 4.7.1); 0 turns it off"),
  failedRatioMinRecipients: key(integer({ min: 1, max: 1_000_000 }), 50, "remote recipients an account must have sent to in the day before max_failed_ratio is judged"),
  // Off by default: suspending disables the account's logins too (as `mailroom user disable`),
  // which an operator should choose knowing their users; 50 is a reasonable value.
  suspendAfterRefusals: key(integer({ min: 0, max: 1_000_000 }), 0, "limit refusals in a day after which the account is disabled and the postmaster told; 0 never suspends"),
};

export const OUTBOUND_SPEC: SectionSpec<OutboundSettings> = {
  workers: key(integer({ min: 1, max: 1000 }), 10, "outbound messages attempted at the same time"),
  perDestination: key(integer({ min: 1, max: 100 }), 4, "connections open at the same time to one destination host"),
  // 0 by default, as Postfix's default_destination_rate_delay: receivers that throttle say so with
  // 4xx replies the retry schedule already honours, and a limit set without knowing the receiver
  // only delays legitimate mail; per_destination already bounds bursts of connections.
  perDestinationRate: key(integer({ min: 0, max: 60_000 }), 0, "messages a minute to one recipient domain, spaced evenly; later ones wait for their slot (not counted as attempts); 0 is unlimited"),
  connectTimeout: key(duration({ minMs: 100, maxMs: 600_000 }), 30_000, "time to connect to a remote SMTP server and read its greeting"),
  commandTimeout: key(duration({ minMs: 100, maxMs: 3_600_000 }), 300_000, "time a remote SMTP server has to answer one command (RFC 5321 §4.5.3.2: 5m)"),
  // Several nodes share one queue (docs/scale-out.md): a node that dies holding a message frees it
  // only when its lease runs out, so the lease bounds how late a killed node's messages go out.
  lease: key(duration({ maxMs: 86_400_000 }), 0, "how long a node keeps a queued message it claimed before another node may retry it (several nodes on one database); must exceed connect_timeout + 4 × command_timeout; 0 is that plus 60s"),
  retrySchedule: key(listOf(duration({ minMs: 100, maxMs: DAY_MS }), { min: 1, max: 50 }), [300_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000], "delays between delivery attempts, in order; the last repeats until max_lifetime"),
  maxLifetime: key(duration({ minMs: 1000, maxMs: 30 * DAY_MS }), 5 * DAY_MS, "how long a message is retried before it bounces (RFC 5321 §4.5.4.1: 4-5 days)"),
  delayWarning: key(duration({ maxMs: 30 * DAY_MS }), 4 * 3_600_000, "when the sender is told a message is delayed (RFC 3464 action=delayed); 0 disables"),
  requireTls: key(boolean(), false, "deliver only over TLS (STARTTLS or a TLS smarthost); a server without it is retried"),
  mtaSts: key(boolean(), true, "honour MTA-STS policies of recipient domains (RFC 8461): in mode enforce, only the named MX hosts, over verified TLS"),
  remotePort: key(integer({ min: 1, max: 65_535 }), 25, "port of remote MX hosts; change only for tests"),
  smarthost: key(optional(hostPort(587)), null, "relay all outbound mail through this host[:port] instead of MX lookup"),
  smarthostTls: key(oneOf(["starttls", "implicit", "none"] as const), "starttls", "TLS to the smarthost: starttls (required), implicit, or none"),
  smarthostUsername: key(optional(text()), null, "AUTH user name at the smarthost (with smarthost_password_file)"),
  smarthostPasswordFile: key(optional(text()), null, "file whose first line is the smarthost AUTH password"),
  routes: key(tableOf(hostPort(25)), {}, 'per-domain static routes: { "example.net" = "relay.example.net:2525" }, used instead of MX'),
  dkimSelector: key(text(), "mailroom", "DKIM selector of keys made by domain add; rotation appends a date"),
  dkimKeyDir: key(optional(text()), null, "directory of per-domain DKIM keys; not set: the dkim folder in server.data_dir"),
  dnsServers: key(listOf(text(), { max: 10 }), [], 'DNS servers for MX, MTA-STS and inbound SPF/DKIM/DMARC lookups ("ip", "ip:port" or "[ipv6]:port"); empty uses the system\'s'),
  dnssecResolver: key(optional(text()), null, 'a DNSSEC-validating resolver you run ("127.0.0.1:53", "[::1]:53"), trusted for its AD bit: turns on DANE (RFC 7672) and then answers all outbound MX, address, TLSA and MTA-STS lookups; not set: no DANE'),
  tlsRpt: key(boolean(), false, "send TLS-RPT reports (RFC 8460): count TLS sessions per recipient domain and day, and once a day send each domain that publishes _smtp._tls a gzipped JSON report (mailto: through the queue, DKIM-signed; https: POSTed)"),
  tlsRptOrganization: key(optional(text()), null, "organization-name of the TLS-RPT reports we send; not set: server.hostname"),
  tlsRptContact: key(optional(text()), null, "contact-info of the TLS-RPT reports we send; not set: tls_rpt_from"),
  tlsRptFrom: key(optional(text()), null, "sender of TLS-RPT report mail (signed with its domain's DKIM key); not set: postmaster@ the first local domain"),
};

export const HTTP_SPEC: SectionSpec<HttpSettings> = {
  enabled: key(boolean(), true, "serve HTTP(S): autoconfig/autodiscover/mobileconfig for mail apps, the MTA-STS policy, /healthz, /readyz, /metrics; a port that cannot be bound is logged and skipped, the mail listeners keep running"),
  address: key(text(), "::", 'address the HTTP(S) ports bind ("::" every address, or one such as "127.0.0.1" behind a reverse proxy)'),
  httpPort: key(optional(integer({ min: 0, max: 65_535 })), 80, "plain HTTP port (autoconfig over http, or the port a reverse proxy forwards to); 0 picks a free one"),
  httpsPort: key(optional(integer({ min: 0, max: 65_535 })), 443, "HTTPS port, serving the certificates of [tls] (per-name by SNI); needed for mta-sts.<domain> and autodiscover"),
  trustedProxies: key(listOf(cidr(), { max: 1000 }), [], "reverse proxies (CIDR) whose X-Forwarded-For, -Proto and -Host are believed; empty: those fields are ignored"),
  bodyLimit: key(size({ min: 1024, max: 16 * 1024 * 1024 }), 64 * 1024, "largest request body (the Autodiscover POST); larger gets 413"),
  maxHeaderSize: key(size({ min: 1024, max: 1024 * 1024 }), 16 * 1024, "largest request header block; larger gets 431"),
  headersTimeout: key(duration({ minMs: 100, maxMs: 600_000 }), 10_000, "time a client has to send its request headers (slow clients are cut with 408)"),
  requestTimeout: key(duration({ minMs: 100, maxMs: 600_000 }), 30_000, "time a client has to send its whole request"),
  metricsToken: key(optional(text()), null, "bearer token /metrics requires (Authorization: Bearer <token>); not set: /metrics answers loopback peers only"),
  mtaStsMode: key(oneOf(["enforce", "testing", "none"] as const), "testing", "mode of the MTA-STS policy served at https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 §3.2)"),
  mtaStsMaxAge: key(integer({ min: 60, max: 31_557_600 }), 604_800, "max_age of the MTA-STS policy in seconds (RFC 8461 §3.2: at most a year)"),
  mtaStsMx: key(listOf(text(), { max: 100 }), [], 'MX names of the MTA-STS policy ("mx1.example.org", "*.example.org"); empty: server.hostname'),
  proxyProtocol: key(boolean(), true, "the HTTP(S) ports take the PROXY protocol from server.proxy_protocol_trusted; false for a reverse proxy that uses X-Forwarded-For (trusted_proxies) instead"),
  tlsReports: key(boolean(), true, "accept TLS-RPT reports (RFC 8460 §5.2) POSTed over HTTPS to https://<server.hostname>/tlsrpt/v1 (mailroom dns adds that rua to the _smtp._tls record); false: only by mail"),
  tlsReportMaxSize: key(size({ min: 1024, max: 64 * 1024 * 1024 }), 1024 * 1024, "largest TLS-RPT report POSTed over HTTPS, both as sent (larger gets 413 while it is read) and once decompressed (a gzip bomb stops there)"),
  tlsReportsPerHour: key(integer({ min: 0, max: 1_000_000 }), 60, "TLS-RPT reports one client address may POST per hour (a reporter sends one per domain per day); more get 429; 0: no limit"),
  admin: key(boolean(), true, "serve the admin JSON API (/api/v1), the admin pages (/admin) and account self-service (/account); over HTTPS, or plain HTTP from loopback only; create the first admin with mailroom admin add"),
  adminSessionIdle: key(duration({ minMs: 60_000, maxMs: 7 * 86_400_000 }), 30 * 60_000, "a signed-in browser (admin pages, account page) is signed out after this long without a request"),
  adminSessionMax: key(duration({ minMs: 60_000, maxMs: 30 * 86_400_000 }), 12 * 3_600_000, "a browser session ends this long after sign-in, however busy"),
  adminBodyLimit: key(size({ min: 1024, max: 1024 * 1024 }), 64 * 1024, "largest JSON body the admin API and account page take (a Sieve script included); larger gets 413"),
  adminDeliveryLog: key(integer({ min: 0, max: 100_000 }), 2000, "recent deliveries (accepted, delivered, deferred, bounced) kept for the admin pages' delivery log (in the store, across restarts; 0: none)"),
  adminTokenDays: key(integer({ min: 0, max: 3660 }), 365, "days a new API token is valid unless its request says otherwise; 0: no expiry"),
};

export const ACME_SPEC: SectionSpec<AcmeConfig> = {
  enabled: key(boolean(), false, "obtain and renew certificates from an ACME CA (RFC 8555) for server.hostname, acme.names and, with domain_names, mta-sts.<domain> and autoconfig.<domain>; enabling it agrees to the CA's terms of service"),
  directoryUrl: key(text(), "https://acme-v02.api.letsencrypt.org/directory", "the CA's ACME directory (Let's Encrypt; its staging directory is https://acme-staging-v02.api.letsencrypt.org/directory)"),
  contact: key(listOf(text(), { max: 10 }), [], 'addresses the CA may write to about the account ("postmaster@example.org" or "mailto:...")'),
  names: key(listOf(text(), { max: 1000 }), [], "further host names to get certificates for (one certificate each)"),
  domainNames: key(boolean(), true, "also get certificates for mta-sts.<domain> and autoconfig.<domain> of every local domain"),
  challenges: key(listOf(oneOf(["http-01", "tls-alpn-01"] as const), { min: 1, max: 2 }), ["http-01", "tls-alpn-01"], "validation methods in order of preference, among those whose port is bound: http-01 (the HTTP port; the CA connects to port 80) and tls-alpn-01 (RFC 8737, the HTTPS port; the CA connects to 443)"),
  keyType: key(oneOf(["ecdsa", "rsa"] as const), "ecdsa", "key of new certificates: ECDSA P-256 or RSA 2048"),
  directoryCaFile: key(optional(text()), null, "PEM CA certificate that signs the ACME server's own HTTPS certificate, for a private ACME CA; not set: the system's CAs"),
  retryMin: key(duration({ minMs: 1000, maxMs: DAY_MS }), 10 * 60_000, "wait after a failed order; doubled per further failure"),
  retryMax: key(duration({ minMs: 1000, maxMs: 7 * DAY_MS }), DAY_MS, "longest wait between failed orders"),
  sharedCheckInterval: key(duration({ minMs: 1000, maxMs: DAY_MS }), 60_000, "PostgreSQL backend: how often a node looks for certificates another node ordered or renewed (they are stored in the database) and starts serving them"),
};

/** The table sections in file order; `listeners` is an array of tables and is handled apart. */
export const SECTION_SPECS = {
  server: SERVER_SPEC,
  tls: TLS_SPEC,
  limits: LIMITS_SPEC,
  auth: AUTH_SPEC,
  inbound: INBOUND_SPEC,
  pop3: POP3_SPEC,
  imap: IMAP_SPEC,
  store: STORE_SPEC,
  shutdown: SHUTDOWN_SPEC,
  outbound: OUTBOUND_SPEC,
  http: HTTP_SPEC,
  sieve: SIEVE_SPEC,
  spam: SPAM_SPEC,
  abuse: ABUSE_SPEC,
  acme: ACME_SPEC,
  managesieve: MANAGESIEVE_SPEC,
  quota: QUOTA_SPEC,
} as const;

export type SectionName = keyof typeof SECTION_SPECS;

export const LISTENER_PROTOCOLS: readonly ListenerProtocol[] = ["smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "managesieve"];

/** IANA ports; the "s" protocols are implicit TLS (RFC 8314 §3), the others offer STARTTLS. */
export const STANDARD_PORTS: Readonly<Record<ListenerProtocol, number>> = {
  smtp: 25,
  submission: 587,
  submissions: 465,
  imap: 143,
  imaps: 993,
  pop3: 110,
  pop3s: 995,
  // RFC 5804 §1.8: ManageSieve's registered port; STARTTLS only, no implicit-TLS variant.
  managesieve: 4190,
};

export function isImplicitTlsProtocol(protocol: ListenerProtocol): boolean {
  return protocol === "submissions" || protocol === "imaps" || protocol === "pop3s";
}

export function defaultListeners(): ListenerConfig[] {
  return LISTENER_PROTOCOLS.map((protocol) => ({
    protocol,
    port: STANDARD_PORTS[protocol],
    // Every address, IPv6 and IPv4 (server/listeners.ts binds a second socket where the OS needs one).
    address: "::",
    tls: isImplicitTlsProtocol(protocol) ? "implicit" : "starttls",
  }));
}

export const LISTENER_KEY_DESCRIPTIONS: Readonly<Record<keyof ListenerConfig, { default: string; description: string }>> = {
  protocol: { default: "(required)", description: "one of smtp, submission, submissions, imap, imaps, pop3, pop3s, managesieve" },
  port: { default: "the protocol's standard port", description: "TCP port; 0 picks a free one" },
  address: { default: '"::"', description: 'address to bind: "::" is every IPv6 and IPv4 address (one dual-stack socket, or two where the OS needs them), "0.0.0.0" every IPv4 address only, or one address such as "127.0.0.1" or "::1"' },
  tls: { default: '"implicit" for submissions/imaps/pop3s, else "starttls"', description: '"none", "starttls", or "implicit" (only for submissions, imaps, pop3s)' },
  proxyProtocol: { default: "true", description: "take the PROXY protocol from server.proxy_protocol_trusted on this listener; false: that list does not apply here" },
};
