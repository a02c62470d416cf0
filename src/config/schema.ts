// The typed configuration: one interface per TOML section (keys are snake_case in the file and
// camelCase here) and, beside it, the spec that gives every key its kind, default and one-line
// description. The loader, the rendered default file and the README reference all read these specs,
// so a key cannot exist without a default and a description.

import { join } from "node:path";
import type { Limits } from "./limits.js";
import { LIMITS_SPEC } from "./limits.js";
import { boolean, cidr, computedKey, duration, hostPort, integer, key, listOf, oneOf, optional, size, tableOf, text, type HostPort, type SectionSpec } from "./value-kinds.js";

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
}

export interface ListenerConfig {
  protocol: ListenerProtocol;
  port: number;
  address: string;
  tls: ListenerTls;
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
}

export type DmarcFailureModeSetting = "follow-policy" | "reject" | "quarantine" | "none";

/** Mail received on port 25 from other servers. */
export interface InboundSettings {
  dmarcFailureMode: DmarcFailureModeSetting;
  ownDomainUnauthenticated: "quarantine" | "reject" | "accept";
  /** CIDR networks whose mail is not held to the own-domain spoofing verdict (Postfix's mynetworks). */
  trustedNetworks: string[];
}

export interface Pop3Settings {
  defaultMode: Pop3ModeSetting;
  markSeenOnRetr: boolean;
}

export interface StoreSettings {
  backend: "sqlite";
  groupCommit: boolean;
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
  store: StoreSettings;
  shutdown: ShutdownSettings;
  outbound: OutboundSettings;
  http: HttpSettings;
  sieve: SieveSettings;
  managesieve: ManageSieveSettings;
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
}

export const SERVER_SPEC: SectionSpec<ServerSettings> = {
  hostname: computedKey(text(), (context) => context.hostname, "this machine's FQDN (as hostname -f), else its host name", "name used in greetings, Received fields, the self-signed certificate and as MX target; a public MX needs a fully qualified name that resolves"),
  dataDir: computedKey(text(), (context) => join(context.cwd, "data"), '"./data"', "directory of the database, message files and generated certificate (relative to the working directory)"),
  logLevel: key(oneOf(["debug", "info", "warn", "error"] as const), "info", "least severe log level written"),
  portFallbackOffset: key(integer({ min: 0, max: 65_535 }), 0, "when a port cannot be bound (EACCES, EADDRINUSE), bind port + this instead (`npm start` sets 10000 through MAILROOM_PORT_FALLBACK_OFFSET); 0 fails the start naming the port and the fix"),
  user: key(optional(text()), null, 'started as root: the user the server runs as once its ports are bound ("mailroom" when not set; created if missing), owner of the data directory; ignored when not started as root'),
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
};

export const POP3_SPEC: SectionSpec<Pop3Settings> = {
  defaultMode: key(oneOf(["keep", "delete-after-retrieve"] as const), "keep", "what RETR means for new accounts: keep messages, or delete them at QUIT after retrieval"),
  markSeenOnRetr: key(boolean(), true, "RETR marks the message \\Seen for IMAP users"),
};

export const STORE_SPEC: SectionSpec<StoreSettings> = {
  backend: key(oneOf(["sqlite"] as const), "sqlite", "mail store backend"),
  groupCommit: key(boolean(), true, "batch concurrent deliveries into one fsync"),
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

export const OUTBOUND_SPEC: SectionSpec<OutboundSettings> = {
  workers: key(integer({ min: 1, max: 1000 }), 10, "outbound messages attempted at the same time"),
  perDestination: key(integer({ min: 1, max: 100 }), 4, "connections open at the same time to one destination host"),
  // 0 by default, as Postfix's default_destination_rate_delay: receivers that throttle say so with
  // 4xx replies the retry schedule already honours, and a limit set without knowing the receiver
  // only delays legitimate mail; per_destination already bounds bursts of connections.
  perDestinationRate: key(integer({ min: 0, max: 60_000 }), 0, "messages a minute to one recipient domain, spaced evenly; later ones wait for their slot (not counted as attempts); 0 is unlimited"),
  connectTimeout: key(duration({ minMs: 100, maxMs: 600_000 }), 30_000, "time to connect to a remote SMTP server and read its greeting"),
  commandTimeout: key(duration({ minMs: 100, maxMs: 3_600_000 }), 300_000, "time a remote SMTP server has to answer one command (RFC 5321 §4.5.3.2: 5m)"),
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
};

/** The table sections in file order; `listeners` is an array of tables and is handled apart. */
export const SECTION_SPECS = {
  server: SERVER_SPEC,
  tls: TLS_SPEC,
  limits: LIMITS_SPEC,
  auth: AUTH_SPEC,
  inbound: INBOUND_SPEC,
  pop3: POP3_SPEC,
  store: STORE_SPEC,
  shutdown: SHUTDOWN_SPEC,
  outbound: OUTBOUND_SPEC,
  http: HTTP_SPEC,
  sieve: SIEVE_SPEC,
  managesieve: MANAGESIEVE_SPEC,
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
};
