// Apple configuration profiles (.mobileconfig) for an address: one com.apple.mail.managed payload
// holding the IMAP (or POP3) account and its SMTP server, per Apple's Configuration Profile
// Reference ("Mail" payload). /apple is a small page asking for the address; the profile is served
// as application/x-apple-aspen-config. When the server certificate chains to a trusted root, the
// profile is signed with it (CMS SignedData, DER, through the `openssl smime` CLI: node:crypto has
// no CMS), so the device shows the profile as "Verified"; a self-signed certificate would only
// make the device call it unverifiable, so then it is served unsigned.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { parseEmailAddress, xmlEscape, type ClientServer } from "./client-settings.js";
import type { HttpContext } from "./context.js";

/** A stable UUID from a name, so reinstalling a profile for the same address replaces it. */
function nameUuid(name: string): string {
  const h = createHash("sha256").update(name).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`.toUpperCase();
}

const str = (key: string, value: string) => `\t\t\t<key>${key}</key>\n\t\t\t<string>${xmlEscape(value)}</string>`;
const int = (key: string, value: number) => `\t\t\t<key>${key}</key>\n\t\t\t<integer>${value}</integer>`;
const bool = (key: string, value: boolean) => `\t\t\t<key>${key}</key>\n\t\t\t<${value}/>`;

/** The profile, or null when the server offers no incoming or no outgoing TLS listener. */
export function renderMobileconfig(address: string, domain: string, hostname: string, servers: readonly ClientServer[]): string | null {
  const incoming = servers.find((s) => s.service === "imap") ?? servers.find((s) => s.service === "pop3");
  const outgoing = servers.find((s) => s.service === "smtp");
  if (!incoming || !outgoing) return null;
  const reverse = hostname.split(".").reverse().join(".");
  const payload = [
    str("EmailAccountDescription", address),
    str("EmailAccountName", address),
    str("EmailAccountType", incoming.service === "imap" ? "EmailTypeIMAP" : "EmailTypePOP"),
    str("EmailAddress", address),
    str("IncomingMailServerAuthentication", "EmailAuthPassword"),
    str("IncomingMailServerHostName", incoming.host),
    int("IncomingMailServerPortNumber", incoming.port),
    bool("IncomingMailServerUseSSL", true),
    str("IncomingMailServerUsername", address),
    str("OutgoingMailServerAuthentication", "EmailAuthPassword"),
    str("OutgoingMailServerHostName", outgoing.host),
    int("OutgoingMailServerPortNumber", outgoing.port),
    bool("OutgoingMailServerUseSSL", true),
    str("OutgoingMailServerUsername", address),
    bool("OutgoingPasswordSameAsIncomingPassword", true),
    str("PayloadDescription", `Mail account ${address}`),
    str("PayloadDisplayName", address),
    str("PayloadIdentifier", `${reverse}.mailroom.mail.${nameUuid(address)}`),
    str("PayloadType", "com.apple.mail.managed"),
    str("PayloadUUID", nameUuid(`mail:${address}`)),
    int("PayloadVersion", 1),
  ].join("\n");
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    "<dict>",
    "\t<key>PayloadContent</key>",
    "\t<array>",
    "\t\t<dict>",
    payload,
    "\t\t</dict>",
    "\t</array>",
    "\t<key>PayloadDescription</key>",
    `\t<string>${xmlEscape(`Mail settings for ${address} on ${domain}`)}</string>`,
    "\t<key>PayloadDisplayName</key>",
    `\t<string>${xmlEscape(`${domain} mail`)}</string>`,
    "\t<key>PayloadIdentifier</key>",
    `\t<string>${xmlEscape(`${reverse}.mailroom.${nameUuid(address)}`)}</string>`,
    "\t<key>PayloadRemovalDisallowed</key>",
    "\t<false/>",
    "\t<key>PayloadType</key>",
    "\t<string>Configuration</string>",
    "\t<key>PayloadUUID</key>",
    `\t<string>${nameUuid(`profile:${address}`)}</string>`,
    "\t<key>PayloadVersion</key>",
    "\t<integer>1</integer>",
    "</dict>",
    "</plist>",
    "",
  ].join("\n");
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mail settings for Apple devices</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>Mail settings for iPhone, iPad and Mac</h1>
<form method="get" action="/apple/mobileconfig"><label>Your e-mail address
<input type="email" name="emailaddress" required maxlength="320"></label>
<button type="submit">Download profile</button></form>
<p>Open the downloaded profile and install it in Settings; you will be asked for your password.</p>
</body></html>
`;

export function registerMobileconfig(app: FastifyInstance, context: HttpContext): void {
  app.get("/apple", async (_request, reply) => reply.type("text/html; charset=utf-8").send(PAGE));
  app.get("/apple/mobileconfig", async (request, reply) => {
    const parsed = parseEmailAddress((request.query as Record<string, unknown>)["emailaddress"]);
    if (!parsed) return reply.code(400).type("text/plain").send("emailaddress: not an e-mail address\n");
    if (!(await context.isLocalDomain(parsed.domain))) return reply.code(404).type("text/plain").send("no mail settings for this domain here\n");
    const profile = renderMobileconfig(parsed.address, parsed.domain, context.hostname, context.servers());
    if (profile === null) return reply.code(404).type("text/plain").send("this server offers no TLS listener for incoming or outgoing mail\n");
    const signed = context.signProfile ? await context.signProfile(Buffer.from(profile, "utf8")) : null;
    const filename = `${parsed.domain.replace(/[^a-z0-9.-]/g, "_")}.mobileconfig`;
    return reply.type("application/x-apple-aspen-config").header("content-disposition", `attachment; filename="${filename}"`).send(signed ?? profile);
  });
}

function run(command: string, args: string[], input?: Buffer): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: err }));
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}

/**
 * Signs profiles with the certificate and key files when `openssl verify` accepts the certificate
 * against the system's roots (the rest of the chain file as untrusted intermediates). `extraCaFile`
 * adds a root (tests). Checked on each call, so a renewed or reloaded certificate is picked up.
 */
export function createProfileSigner(files: { certFile: string; keyFile: string; extraCaFile?: string }, log: HttpContext["log"]): (profile: Buffer) => Promise<Buffer | null> {
  return async (profile) => {
    const verifyArgs = ["verify", "-purpose", "any", "-untrusted", files.certFile, ...(files.extraCaFile ? ["-CAfile", files.extraCaFile] : []), files.certFile];
    const verified = await run("openssl", verifyArgs).catch(() => null);
    if (!verified || verified.code !== 0) return null;
    const signed = await run("openssl", ["smime", "-sign", "-nodetach", "-binary", "-outform", "DER", "-signer", files.certFile, "-inkey", files.keyFile, "-certfile", files.certFile], profile).catch(() => null);
    if (!signed || signed.code !== 0 || signed.stdout.length === 0) {
      log.warn("http.mobileconfig.sign_failed", { error: signed?.stderr.slice(0, 300) ?? "openssl not runnable" });
      return null;
    }
    return signed.stdout;
  };
}
