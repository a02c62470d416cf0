// The lines printed when the server starts: every listener with its real port (after any
// fallback), the data directory, the certificate in use, and what to do next, as the exact admin
// command for this server (admin commands refuse to create a second, empty store elsewhere).
import { hostnameWarning } from "../config/index.js";
import type { RunningServer } from "./compose.js";

/** What decides the admin command line for this server. */
export interface AdminCommandContext {
  /** The config file the server read, or null for the built-in defaults. */
  configFile: string | null;
  dataDir: string;
  /** The data dir the same command would find from the same directory with no MAILROOM_* variables. */
  dataDirWithoutOverrides: string | null;
  cwd: string;
}

/** `npx mailroom` with the --config and --data-dir this server needs, nothing more. */
export function adminCommandPrefix(context: AdminCommandContext): { command: string; cwd: string } {
  const parts = ["npx mailroom"];
  if (context.configFile !== null) parts.push(`--config ${shellQuote(context.configFile)}`);
  if (context.dataDirWithoutOverrides !== context.dataDir) parts.push(`--data-dir ${shellQuote(context.dataDir)}`);
  return { command: parts.join(" "), cwd: context.cwd };
}

function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

const PURPOSE: Record<string, string> = {
  smtp: "SMTP, mail from the internet",
  submission: "SMTP submission, STARTTLS + AUTH",
  submissions: "SMTP submission, implicit TLS",
  imap: "IMAP, STARTTLS",
  imaps: "IMAP, implicit TLS",
  pop3: "POP3, STLS",
  pop3s: "POP3, implicit TLS",
  managesieve: "ManageSieve, STARTTLS (Sieve filter scripts)",
};

export async function renderBanner(server: RunningServer, admin: { command: string; cwd: string }): Promise<string> {
  const { config, listeners, tls } = server;
  const lines = [`Mailroom is running as ${config.server.hostname}`, ""];
  const moved = listeners.bound.filter((l) => l.movedBecause !== undefined);
  if (moved.length > 0) {
    // Loud on purpose: mail apps and other servers look for the standard ports, not these.
    lines.push(
      `WARNING: ${moved.length} port(s) moved up by server.port_fallback_offset = ${config.server.portFallbackOffset}: ` +
        moved.map((l) => `${l.requestedPort} -> ${l.port} (${l.movedBecause})`).join(", "),
      "  Clients and other mail servers will not find them there; bind the standard ports for real use.",
      "",
    );
  }
  for (const l of listeners.bound) {
    const movedNote = l.movedBecause !== undefined ? `  (port ${l.requestedPort} refused: ${l.movedBecause})` : "";
    lines.push(`  ${l.protocol.padEnd(12)} ${l.endpoints.join(" ")}`.padEnd(36) + ` ${PURPOSE[l.protocol] ?? ""}${movedNote}`);
  }
  for (const l of listeners.skipped) lines.push(`  ${l.protocol.padEnd(12)} not started: ${l.reason}`);
  // The HTTP side ([http]): a port another web server holds is said here, loudly; mail runs on.
  for (const h of server.http?.bound ?? []) {
    const host = h.address.includes(":") ? `[${h.address}]` : h.address;
    lines.push(`  ${h.scheme.padEnd(12)} ${host}:${h.port}`.padEnd(36) + " autoconfig, autodiscover, mobileconfig, MTA-STS, health, metrics");
  }
  for (const h of server.http?.unavailable ?? []) lines.push(`  ${h.scheme.padEnd(12)} not started: ${h.reason}`);
  const cert = tls.certificate;
  lines.push(
    "",
    `  data directory  ${config.server.dataDir}`,
    `  config file     ${config.sourceFile ?? "none (built-in defaults; `mailroom config default` prints them)"}`,
    `  certificate     ${tls.certificates.map((c) => `${c.certFile} (${c.keyType})`).join(", ")}${cert.selfSigned ? " (self-signed: mail apps will ask to trust it)" : ""}`,
    "",
  );
  lines.push(...[await hostnameWarning(config.server.hostname)].flatMap((warning) => (warning === null ? [] : [warning, ""])));
  const domains = await server.store.accounts.listDomains();
  const where = `(in ${admin.cwd}; admin commands run inside this server while it runs)`;
  if (domains.length === 0) {
    lines.push(`Next: add a domain and a user, then point a mail app at this host ${where}:`, `  ${admin.command} domain add example.org`, `  ${admin.command} user add you@example.org`);
  } else {
    lines.push(`Domains: ${domains.map((d) => d.name).join(", ")}. Add users ${where} with:`, `  ${admin.command} user add you@${domains[0]!.name}`);
  }
  return lines.join("\n") + "\n";
}
