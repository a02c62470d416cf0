// The name this server announces (SMTP greeting and EHLO, Received fields, the self-signed
// certificate, the MX target of `mailroom dns`). A public MX must use a fully qualified domain
// name (RFC 5321 §2.3.5, §4.1.1.1), but os.hostname() is often the short name ("vm"). So the
// default follows `hostname -f`: the machine's name if it is dotted, else the canonical name the
// resolver gives for it (/etc/hosts' "127.0.1.1 vm.example.org vm", or DNS). `config check` and
// the start banner warn when the name in use is not a resolvable FQDN.
import { lookup, lookupService } from "node:dns/promises";
import { isIP } from "node:net";
import { hostname as osHostname } from "node:os";

/** The resolver calls this module makes; tests pass a table. */
export interface HostNameResolver {
  /** Every address of a name (getaddrinfo, so /etc/hosts first); rejects when there is none. */
  addresses(name: string): Promise<string[]>;
  /** The name an address maps back to (getnameinfo); rejects when there is none. */
  nameOf(address: string): Promise<string>;
}

export const systemHostNameResolver: HostNameResolver = {
  addresses: async (name) => (await lookup(name, { all: true })).map((a) => a.address),
  nameOf: async (address) => (await lookupService(address, 0)).hostname,
};

/** Longest a lookup may take: a start must not hang on a DNS server that does not answer. */
const LOOKUP_TIMEOUT_MS = 2_000;

function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${LOOKUP_TIMEOUT_MS} ms`)), LOOKUP_TIMEOUT_MS);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export function isFullyQualified(name: string): boolean {
  const bare = name.replace(/\.$/, "");
  return isIP(bare) === 0 && /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(bare) && !/\.(localhost|localdomain|local)$/i.test(bare);
}

/**
 * The machine's fully qualified name when it can be found, else its short name: os.hostname() if
 * dotted; else, like `hostname -f`, a name one of its addresses maps back to that starts with
 * the short name ("vm" → "vm.example.org"; never "localhost").
 */
export async function machineHostname(resolver: HostNameResolver = systemHostNameResolver, short: string = osHostname()): Promise<string> {
  if (isFullyQualified(short)) return short;
  try {
    const addresses = await withTimeout(resolver.addresses(short), `lookup of ${short}`);
    for (const address of addresses) {
      const name = await withTimeout(resolver.nameOf(address), `reverse lookup of ${address}`).catch(() => null);
      if (name !== null && isFullyQualified(name) && name.toLowerCase().startsWith(`${short.toLowerCase()}.`)) return name.replace(/\.$/, "");
    }
  } catch {
    // No address for our own name: the short name is all there is (and config check says so).
  }
  return short;
}

/**
 * Why `name` is not fit to announce as a public MX, or null when it is a fully qualified name
 * that resolves. The text names the key to set.
 */
export async function hostnameWarning(name: string, resolver: HostNameResolver = systemHostNameResolver): Promise<string | null> {
  const fix = "set server.hostname to the name the MX record points at";
  if (!isFullyQualified(name)) {
    return `warning: server.hostname "${name}" is not a fully qualified domain name; other mail servers expect one in the greeting (RFC 5321 §4.1.1.1): ${fix}`;
  }
  try {
    const addresses = await withTimeout(resolver.addresses(name.replace(/\.$/, "")), `lookup of ${name}`);
    if (addresses.length > 0) return null;
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return `warning: server.hostname "${name}" does not resolve (${reason}); ${fix}, and give it an A/AAAA record`;
  }
  return `warning: server.hostname "${name}" does not resolve; ${fix}, and give it an A/AAAA record`;
}
