// What a mail app is told about this server: the enabled client listeners (IMAP, POP3,
// submission), implicit TLS before STARTTLS (RFC 8314 §5.1 prefers implicit TLS), cleartext never
// (RFC 8314 §3), loopback-only listeners never (an app elsewhere cannot reach them). Pure; every
// route family (autoconfig, autodiscover, mobileconfig) renders from this one list.
import { isIP } from "node:net";
import type { ListenerConfig } from "../config/index.js";

export type ClientService = "imap" | "pop3" | "smtp";

export interface ClientServer {
  service: ClientService;
  host: string;
  port: number;
  /** "SSL" is implicit TLS (RFC 8314 §3.3), "STARTTLS" the upgrade. */
  socket: "SSL" | "STARTTLS";
}

const FAMILY: Record<ListenerConfig["protocol"], ClientService | null> = {
  imaps: "imap",
  imap: "imap",
  pop3s: "pop3",
  pop3: "pop3",
  submissions: "smtp",
  submission: "smtp",
  smtp: null, // port 25 is for other servers; apps submit on 465/587 (RFC 6409)
  managesieve: null, // no autoconfig format names ManageSieve; filter add-ons ask for it themselves
};

export function isLoopbackAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, "");
  if (isIP(bare) === 4) return bare.startsWith("127.");
  return bare === "::1" || bare === "localhost" || /^::ffff:127\./i.test(bare);
}

/**
 * The servers to offer, per service in the order apps should try them: implicit TLS first, then
 * STARTTLS, lower port first within each. `advertisedPorts` maps a listener to the port it is
 * reachable on when that differs from the configured one (port 0 in tests, or a fallback).
 */
export function clientServers(listeners: readonly ListenerConfig[], host: string, advertisedPort: (listener: ListenerConfig) => number = (l) => l.port): ClientServer[] {
  const servers: ClientServer[] = [];
  for (const listener of listeners) {
    const service = FAMILY[listener.protocol];
    if (service === null || listener.tls === "none" || isLoopbackAddress(listener.address)) continue;
    const port = advertisedPort(listener);
    if (port === 0) continue;
    const socket = listener.tls === "implicit" ? "SSL" : "STARTTLS";
    if (servers.some((s) => s.service === service && s.port === port)) continue;
    servers.push({ service, host, port, socket });
  }
  const rank = (s: ClientServer) => (s.socket === "SSL" ? 0 : 1);
  return servers.sort((a, b) => a.service.localeCompare(b.service) || rank(a) - rank(b) || a.port - b.port);
}

/** XML character data and attribute values (XML 1.0 §2.4). */
export function xmlEscape(value: string): string {
  return value.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** An e-mail address as apps send it: local@domain, bounded, no control characters. Null when not one. */
export function parseEmailAddress(raw: unknown): { address: string; domain: string } | null {
  if (typeof raw !== "string" || raw.length > 320) return null;
  const address = raw.trim();
  const at = address.lastIndexOf("@");
  if (at <= 0 || at === address.length - 1 || /[\s<>"\\\x00-\x1f\x7f]/.test(address)) return null;
  const domain = address.slice(at + 1).toLowerCase();
  if (!isDomainName(domain)) return null;
  return { address, domain };
}

/** A host name: dot-separated LDH labels (RFC 1123 §2.1), at most 253 octets. */
export function isDomainName(name: string): boolean {
  return name.length <= 253 && /^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/i.test(name);
}
