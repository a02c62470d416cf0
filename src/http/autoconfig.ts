// Thunderbird autoconfig (the clientConfig v1.1 format Thunderbird's account setup reads):
// https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat. Thunderbird asks
//   http(s)://autoconfig.<domain>/mail/config-v1.1.xml?emailaddress=<address>
//   http(s)://<domain>/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=<address>
// Usernames are the whole address (%EMAILADDRESS%): accounts log in by address (auth/authenticator.ts).
import type { FastifyInstance, FastifyRequest } from "fastify";
import { isDomainName, parseEmailAddress, xmlEscape, type ClientServer } from "./client-settings.js";
import type { HttpContext } from "./context.js";

export const AUTOCONFIG_PATHS = ["/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml"] as const;

export function renderAutoconfig(domain: string, servers: readonly ClientServer[]): string {
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<clientConfig version="1.1">', `  <emailProvider id="${xmlEscape(domain)}">`];
  lines.push(`    <domain>${xmlEscape(domain)}</domain>`, `    <displayName>${xmlEscape(domain)}</displayName>`, `    <displayShortName>${xmlEscape(domain)}</displayShortName>`);
  // Incoming: IMAP before POP3 (IMAP keeps mail on the server for every device); outgoing: SMTP submission.
  const ordered = [...servers.filter((s) => s.service === "imap"), ...servers.filter((s) => s.service === "pop3"), ...servers.filter((s) => s.service === "smtp")];
  for (const server of ordered) {
    const element = server.service === "smtp" ? "outgoingServer" : "incomingServer";
    lines.push(
      `    <${element} type="${server.service}">`,
      `      <hostname>${xmlEscape(server.host)}</hostname>`,
      `      <port>${server.port}</port>`,
      `      <socketType>${server.socket}</socketType>`,
      "      <authentication>password-cleartext</authentication>",
      "      <username>%EMAILADDRESS%</username>",
      `    </${element}>`,
    );
  }
  lines.push("  </emailProvider>", "</clientConfig>");
  return lines.join("\n") + "\n";
}

/** The domain asked about: the address's, else the Host's (autoconfig.<domain> or <domain>). */
export function requestedDomain(request: FastifyRequest): string | null | "bad-address" {
  const query = request.query as Record<string, unknown>;
  const raw = query["emailaddress"];
  if (raw !== undefined) {
    const parsed = parseEmailAddress(raw);
    return parsed ? parsed.domain : "bad-address";
  }
  const host = request.hostname.replace(/:\d+$/, "").toLowerCase().replace(/^autoconfig\./, "");
  return isDomainName(host) ? host : null;
}

export function registerAutoconfig(app: FastifyInstance, context: HttpContext): void {
  for (const path of AUTOCONFIG_PATHS) {
    app.get(path, async (request, reply) => {
      const domain = requestedDomain(request);
      if (domain === "bad-address") return reply.code(400).type("text/plain").send("emailaddress: not an e-mail address\n");
      if (domain === null || !(await context.isLocalDomain(domain))) return reply.code(404).type("text/plain").send("no mail settings for this domain here\n");
      return reply.type("application/xml; charset=utf-8").header("cache-control", "max-age=3600").send(renderAutoconfig(domain, context.servers()));
    });
  }
}
