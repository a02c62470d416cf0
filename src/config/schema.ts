// The typed configuration: one interface per TOML section (keys are snake_case in the file and
// camelCase here) and, beside it, the spec that gives every key its kind, default and one-line
// description. The loader, the rendered default file and the README reference all read these specs,
// so a key cannot exist without a default and a description.

import { join } from "node:path";
import type { Limits } from "./limits.js";
import { LIMITS_SPEC } from "./limits.js";
import { boolean, computedKey, duration, integer, key, oneOf, optional, text, type SectionSpec } from "./value-kinds.js";

export type LogLevelSetting = "debug" | "info" | "warn" | "error";
export type ListenerProtocol = "smtp" | "submission" | "submissions" | "imap" | "imaps" | "pop3" | "pop3s";
export type ListenerTls = "none" | "starttls" | "implicit";
export type Pop3ModeSetting = "keep" | "delete-after-retrieve";

export interface ServerSettings {
  hostname: string;
  /** Absolute path. */
  dataDir: string;
  logLevel: LogLevelSetting;
  /** Added to a port that cannot be bound (EACCES, EADDRINUSE); 0 disables the fallback. */
  portFallbackOffset: number;
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

export interface Config {
  /** The file the settings came from, or null for zero-config defaults. */
  sourceFile: string | null;
  server: ServerSettings;
  listeners: ListenerConfig[];
  tls: TlsSettings;
  limits: Limits;
  auth: AuthSettings;
  pop3: Pop3Settings;
  store: StoreSettings;
  shutdown: ShutdownSettings;
}

export const SERVER_SPEC: SectionSpec<ServerSettings> = {
  hostname: computedKey(text(), (context) => context.hostname, "this machine's host name", "name used in greetings, Received fields and the self-signed certificate"),
  dataDir: computedKey(text(), (context) => join(context.cwd, "data"), '"./data"', "directory of the database, message files and generated certificate (relative to the working directory)"),
  logLevel: key(oneOf(["debug", "info", "warn", "error"] as const), "info", "least severe log level written"),
  portFallbackOffset: key(integer({ min: 0, max: 65_535 }), 10_000, "when a port cannot be bound (EACCES, EADDRINUSE), bind port + this instead; 0 disables"),
};

export const TLS_SPEC: SectionSpec<TlsSettings> = {
  certFile: key(optional(text()), null, "PEM certificate chain; with key_file, or neither for a generated self-signed certificate"),
  keyFile: key(optional(text()), null, "PEM private key of cert_file"),
  minVersion: key(oneOf(["TLSv1.2", "TLSv1.3"] as const), "TLSv1.2", "oldest TLS version accepted"),
  allowPlaintextAuth: key(boolean(), false, "allow passwords over connections without TLS (RFC 8314 advises against)"),
  allowPlaintextAuthOnLoopback: key(boolean(), false, "allow passwords without TLS from 127.0.0.1 and ::1 only"),
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

/** The table sections in file order; `listeners` is an array of tables and is handled apart. */
export const SECTION_SPECS = {
  server: SERVER_SPEC,
  tls: TLS_SPEC,
  limits: LIMITS_SPEC,
  auth: AUTH_SPEC,
  pop3: POP3_SPEC,
  store: STORE_SPEC,
  shutdown: SHUTDOWN_SPEC,
} as const;

export type SectionName = keyof typeof SECTION_SPECS;

export const LISTENER_PROTOCOLS: readonly ListenerProtocol[] = ["smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s"];

/** IANA ports; the "s" protocols are implicit TLS (RFC 8314 §3), the others offer STARTTLS. */
export const STANDARD_PORTS: Readonly<Record<ListenerProtocol, number>> = {
  smtp: 25,
  submission: 587,
  submissions: 465,
  imap: 143,
  imaps: 993,
  pop3: 110,
  pop3s: 995,
};

export function isImplicitTlsProtocol(protocol: ListenerProtocol): boolean {
  return protocol === "submissions" || protocol === "imaps" || protocol === "pop3s";
}

export function defaultListeners(): ListenerConfig[] {
  return LISTENER_PROTOCOLS.map((protocol) => ({
    protocol,
    port: STANDARD_PORTS[protocol],
    address: "0.0.0.0",
    tls: isImplicitTlsProtocol(protocol) ? "implicit" : "starttls",
  }));
}

export const LISTENER_KEY_DESCRIPTIONS: Readonly<Record<keyof ListenerConfig, { default: string; description: string }>> = {
  protocol: { default: "(required)", description: "one of smtp, submission, submissions, imap, imaps, pop3, pop3s" },
  port: { default: "the protocol's standard port", description: "TCP port; 0 picks a free one" },
  address: { default: '"0.0.0.0"', description: 'address to bind, e.g. "127.0.0.1" or "::"' },
  tls: { default: '"implicit" for submissions/imaps/pop3s, else "starttls"', description: '"none", "starttls", or "implicit" (only for submissions, imaps, pop3s)' },
};
