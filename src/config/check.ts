// `mailroom config check` beyond the syntax of the file: what the keys point at. The certificate
// and key files must exist, be readable, hold a certificate that is valid now and a private key
// that matches it; a missing smarthost password file is an error too. Each problem is one line
// naming the key (ConfigError, exit 78). Things that do not stop a start but will hurt are
// warnings: a certificate close to expiry or not naming server.hostname, a chain out of order,
// a host name that is not a resolvable FQDN (host-name.ts), [acme] without an HTTP port to answer
// its challenges on.
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ConfigError } from "./load.js";
import { hostnameWarning, systemHostNameResolver, type HostNameResolver } from "./host-name.js";
import type { Config } from "./schema.js";

export interface ConfigCheckOptions {
  now?: Date;
  resolver?: HostNameResolver;
}

/** Warn this long before a certificate expires (Let's Encrypt renews 30 days before). */
const EXPIRY_WARNING_MS = 14 * 86_400_000;

/** Checks the files and names the config refers to; throws ConfigError, else returns the warnings. */
export async function checkConfigFiles(config: Config, options: ConfigCheckOptions = {}): Promise<string[]> {
  const now = options.now ?? new Date();
  const problems: string[] = [];
  const warnings: string[] = [];
  const { certFile, keyFile } = config.tls;
  if (certFile !== null && keyFile !== null) await checkCertificate(certFile, keyFile, config.server.hostname, now, problems, warnings);
  const passwordFile = config.outbound.smarthostPasswordFile;
  if (passwordFile !== null) {
    const read = await readText(passwordFile);
    if (typeof read !== "string") problems.push(`outbound.smarthost_password_file: ${passwordFile}: ${read.problem}`);
  }
  if (config.acme.enabled) {
    const caFile = config.acme.directoryCaFile;
    if (caFile !== null) {
      const read = await readText(caFile);
      if (typeof read !== "string") problems.push(`acme.directory_ca_file: ${caFile}: ${read.problem}`);
      else if (!/-----BEGIN CERTIFICATE-----/.test(read)) problems.push(`acme.directory_ca_file: ${caFile}: no PEM certificate in it`);
    }
    if (!/^https:\/\//i.test(config.acme.directoryUrl)) problems.push(`acme.directory_url: expected an https:// URL (RFC 8555 §6.1), got ${JSON.stringify(config.acme.directoryUrl)}`);
    if (!config.http.enabled || (config.http.httpPort === null && config.http.httpsPort === null)) warnings.push("warning: [acme] is enabled but the HTTP service has no port: no ACME challenge can be answered");
  }
  const hostWarning = await hostnameWarning(config.server.hostname, options.resolver ?? systemHostNameResolver);
  if (hostWarning !== null) warnings.push(hostWarning);
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `config error: ${p}`));
  return warnings;
}

async function checkCertificate(certFile: string, keyFile: string, hostname: string, now: Date, problems: string[], warnings: string[]): Promise<void> {
  const certText = await readText(certFile);
  const keyText = await readText(keyFile);
  let chain: X509Certificate[] | null = null;
  let key: KeyObject | null = null;
  if (typeof certText !== "string") problems.push(`tls.cert_file: ${certFile}: ${certText.problem}`);
  else {
    const parsed = parseChain(certText);
    if (typeof parsed === "string") problems.push(`tls.cert_file: ${certFile}: ${parsed}`);
    else chain = parsed;
  }
  if (typeof keyText !== "string") problems.push(`tls.key_file: ${keyFile}: ${keyText.problem}`);
  else {
    try {
      key = createPrivateKey(keyText);
    } catch (error) {
      const encrypted = /ENCRYPTED/.test(keyText) || /passphrase/i.test((error as Error).message);
      problems.push(`tls.key_file: ${keyFile}: ${encrypted ? "the key is encrypted; give an unencrypted PEM key" : "no PEM private key in it"}`);
    }
  }
  if (chain === null) return;
  const leaf = chain[0]!;
  const validFrom = new Date(leaf.validFrom);
  const validTo = new Date(leaf.validTo);
  if (now < validFrom) problems.push(`tls.cert_file: ${certFile}: the certificate is not valid before ${validFrom.toISOString()}`);
  else if (now > validTo) problems.push(`tls.cert_file: ${certFile}: the certificate expired on ${validTo.toISOString()}`);
  else if (validTo.getTime() - now.getTime() < EXPIRY_WARNING_MS) warnings.push(`warning: tls.cert_file: the certificate expires on ${validTo.toISOString()}; renew it and send SIGHUP`);
  if (key !== null && !leaf.checkPrivateKey(key)) problems.push(`tls.key_file: ${keyFile}: the key does not match the certificate in ${certFile}`);
  if (leaf.checkHost(hostname) === undefined) warnings.push(`warning: tls.cert_file: the certificate does not name server.hostname "${hostname}" (it names ${namesOf(leaf)}); clients will refuse it`);
  for (let i = 1; i < chain.length; i++) {
    if (!chain[i - 1]!.checkIssued(chain[i]!)) {
      warnings.push(`warning: tls.cert_file: certificate ${i + 1} in the file did not issue certificate ${i}; the chain must go from the server's certificate up to the root`);
      break;
    }
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function parseChain(text: string): X509Certificate[] | string {
  const blocks = text.match(PEM_CERTIFICATE);
  if (blocks === null) return "no PEM certificate in it";
  try {
    return blocks.map((block) => new X509Certificate(block));
  } catch (error) {
    return `not a valid certificate (${(error as Error).message})`;
  }
}

function namesOf(cert: X509Certificate): string {
  const alt = cert.subjectAltName?.split(", ").map((n) => n.replace(/^DNS:/, "")) ?? [];
  const cn = /CN=([^\n]+)/.exec(cert.subject)?.[1];
  const names = alt.length > 0 ? alt : cn !== undefined ? [cn] : [];
  return names.length > 0 ? names.join(", ") : "no host name";
}

async function readText(file: string): Promise<string | { problem: string }> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { problem: "no such file" };
    if (code === "EISDIR") return { problem: "is a directory" };
    return { problem: `cannot be read (${code ?? (error as Error).message})` };
  }
}
