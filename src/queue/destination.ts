// Where mail for a recipient domain goes: a smarthost for everything, a static route for the
// domain, or the domain's MX hosts (RFC 5321 §5.1), in that order of precedence. The answer is an
// ordered list of hosts to try; each host's addresses are looked up when it is tried.
import { isNegativeAnswer, type DnsResolver } from "../mail-auth/index.js";
import type { ClientTlsMode } from "./smtp-client.js";
import { mxMatches, type MtaStsLookup } from "./mta-sts.js";
import type { DaneOutcome, DanePolicy, DaneResolver } from "./dane.js";

export interface RouteTarget {
  host: string;
  port: number;
}

export interface RoutingOptions {
  resolver: DnsResolver;
  /** Port of MX hosts and implicit-MX hosts (25; tests use their own). */
  remotePort: number;
  requireTls: boolean;
  routes: Readonly<Record<string, RouteTarget>>;
  smarthost: (RouteTarget & { tls: "starttls" | "implicit" | "none"; auth: { username: string; password: string } | null }) | null;
  /** Random number in [0, 1) for shuffling equal-preference MX hosts; Math.random by default. */
  random?: () => number;
  /** The recipient domain's MTA-STS policy (RFC 8461), or absent to ignore MTA-STS. */
  mtaSts?: MtaStsLookup | null;
  /** Where MTA-STS decisions in mode testing are reported. */
  onPolicyEvent?: (event: string, fields: Record<string, unknown>) => void;
  /** DANE (RFC 7672) through a validating resolver; absent: no DANE. */
  dane?: DaneResolver | null;
  /** Each DANE-governed host's result (authenticated, or why not), e.g. for TLS-RPT (RFC 8460). */
  onDaneOutcome?: (outcome: DaneOutcome) => void;
}

export interface DestinationHost {
  /** Host name (or IP literal) as found: the TLS server name, the Remote-MTA of DSNs. */
  name: string;
  port: number;
  tls: ClientTlsMode;
  auth: { username: string; password: string } | null;
  /** The certificate must be valid for `name` (an MTA-STS policy in mode enforce, RFC 8461 §4.2). */
  verifyCertificate?: boolean;
  /** The MX records (or their denial) were DNSSEC-validated: RFC 8689 §4.2.1's "MX by DNSSEC". */
  dnssec?: boolean;
  /** The host's DANE policy (queue/dane.ts), when DANE is on and the MX lookup was validated. */
  dane?: DanePolicy;
}

export type Destination =
  | { kind: "hosts"; via: "smarthost" | "route" | "mx" | "implicit-mx"; hosts: DestinationHost[] }
  /** `status` is the RFC 3463 code for the recipients' DSN. */
  | { kind: "unreachable"; permanent: boolean; status: string; reason: string };

/** An IPv4 or IPv6 literal, with or without the [brackets] of RFC 5321 §4.1.3. */
export function ipLiteral(name: string): string | null {
  const bare = name.startsWith("[") && name.endsWith("]") ? name.slice(1, -1).replace(/^IPv6:/i, "") : name;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(bare) || (bare.includes(":") && /^[0-9a-fA-F:.]+$/.test(bare))) return bare;
  return null;
}

export async function resolveDestination(domain: string, options: RoutingOptions): Promise<Destination> {
  const opportunistic: ClientTlsMode = options.requireTls ? "required" : "opportunistic";
  if (options.smarthost) {
    const { host, port, tls, auth } = options.smarthost;
    const mode: ClientTlsMode = tls === "implicit" ? "implicit" : tls === "starttls" ? "required" : options.requireTls ? "required" : "none";
    return { kind: "hosts", via: "smarthost", hosts: [{ name: host, port, tls: mode, auth }] };
  }
  const route = options.routes[domain.toLowerCase()];
  if (route) return { kind: "hosts", via: "route", hosts: [{ name: route.host, port: route.port, tls: opportunistic, auth: null }] };
  // RFC 5321 §4.1.3: a domain literal names the host itself.
  const literal = ipLiteral(domain);
  if (literal !== null) return { kind: "hosts", via: "implicit-mx", hosts: [{ name: literal, port: options.remotePort, tls: opportunistic, auth: null }] };

  let records;
  let mxSecure = false;
  try {
    if (options.dane) ({ records, secure: mxSecure } = await options.dane.mx(domain));
    else records = await options.resolver(domain, "MX");
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ENOTFOUND") return { kind: "unreachable", permanent: true, status: "5.1.2", reason: `${domain}: no such domain (NXDOMAIN)` };
    if (!isNegativeAnswer(error)) return { kind: "unreachable", permanent: false, status: "4.4.3", reason: `MX lookup for ${domain} failed: ${code ?? String(error)}` };
    // RFC 5321 §5.1: no MX records: the domain itself is the one host, at preference 0. A
    // validated denial of the MX records keeps DANE possible for it (RFC 7672 §2.2.1).
    const secureDenial = (error as { secure?: boolean }).secure === true;
    const implicit = { kind: "hosts" as const, via: "implicit-mx" as const, hosts: [{ name: domain, port: options.remotePort, tls: opportunistic, auth: null }] };
    return applyMtaSts(domain, await applyDane(implicit, secureDenial, options), options);
  }
  // RFC 7505 §3: a single MX with the root as exchange says "this domain accepts no mail".
  if (records.some((mx) => mx.exchange === "" || mx.exchange === ".")) {
    return { kind: "unreachable", permanent: true, status: "5.1.10", reason: `${domain} publishes a null MX: it accepts no mail (RFC 7505)` };
  }
  const random = options.random ?? Math.random;
  // RFC 5321 §5.1: lowest preference first; equal preferences in random order to spread load.
  const ordered = records.map((mx) => ({ mx, tie: random() })).sort((a, b) => a.mx.priority - b.mx.priority || a.tie - b.tie);
  const seen = new Set<string>();
  const hosts: DestinationHost[] = [];
  for (const { mx } of ordered) {
    const name = mx.exchange.toLowerCase().replace(/\.$/, "");
    if (seen.has(name)) continue;
    seen.add(name);
    hosts.push({ name, port: options.remotePort, tls: opportunistic, auth: null });
  }
  return applyMtaSts(domain, await applyDane({ kind: "hosts", via: "mx", hosts }, mxSecure, options), options);
}

/**
 * RFC 7672 §2.2: each host's DANE policy from the validating resolver. Hosts with TLSA records
 * get TLS made mandatory here; their authentication happens in the TLS session (delivery-attempt).
 */
async function applyDane(destination: Destination & { kind: "hosts" }, mxSecure: boolean, options: RoutingOptions): Promise<Destination & { kind: "hosts" }> {
  const dane = options.dane;
  if (!dane) return destination;
  const hosts = await Promise.all(
    destination.hosts.map(async (host): Promise<DestinationHost> => {
      if (ipLiteral(host.name) !== null) return { ...host, dnssec: mxSecure };
      const policy = await dane.policyFor(host.name, host.port, mxSecure);
      return { ...host, dnssec: mxSecure, dane: policy, ...(policy.mode === "dane" || policy.mode === "encrypt" ? { tls: "required" as const } : {}) };
    }),
  );
  return { ...destination, hosts };
}

/** A host whose TLS DANE governs: MTA-STS does not apply to it (RFC 8461 §2). */
function daneGoverned(host: DestinationHost): boolean {
  return host.dane !== undefined && host.dane.mode !== "none";
}

/**
 * RFC 8461 §5: under a policy in mode enforce only the MX hosts it names are tried, each over TLS
 * with a certificate valid for its name; when none is named, delivery waits (a temporary failure)
 * for the policy or the MX records to change. Mode testing delivers as before and reports.
 */
async function applyMtaSts(domain: string, destination: Destination & { kind: "hosts" }, options: RoutingOptions): Promise<Destination> {
  if (!options.mtaSts) return destination;
  const policy = await options.mtaSts(domain);
  if (policy === null) return destination;
  const matching = destination.hosts.filter((host) => daneGoverned(host) || mxMatches(policy.mx, host.name));
  const unmatched = destination.hosts.filter((host) => !matching.includes(host)).map((host) => host.name);
  if (policy.mode === "testing") {
    if (unmatched.length > 0) options.onPolicyEvent?.("mta_sts.testing_mismatch", { domain, hosts: unmatched, policy: policy.mx });
    return destination;
  }
  if (unmatched.length > 0) options.onPolicyEvent?.("mta_sts.host_refused", { domain, hosts: unmatched, policy: policy.mx });
  if (matching.length === 0) {
    return { kind: "unreachable", permanent: false, status: "4.7.5", reason: `no MX host of ${domain} (${unmatched.join(", ")}) matches its MTA-STS policy (mx: ${policy.mx.join(", ")})` };
  }
  return { ...destination, hosts: matching.map((host) => (daneGoverned(host) ? host : { ...host, tls: "required", verifyCertificate: true })) };
}

export type AddressLookup = { kind: "addresses"; addresses: string[] } | { kind: "none"; permanent: boolean; reason: string };

/** A host's IPv4 then IPv6 addresses; an IP literal is its own address. */
export async function resolveHostAddresses(name: string, resolver: DnsResolver): Promise<AddressLookup> {
  const literal = ipLiteral(name);
  if (literal !== null) return { kind: "addresses", addresses: [literal] };
  const addresses: string[] = [];
  let temporary: string | null = null;
  for (const rrtype of ["A", "AAAA"] as const) {
    try {
      addresses.push(...(await resolver(name, rrtype)));
    } catch (error) {
      if (!isNegativeAnswer(error)) temporary = `${rrtype} lookup for ${name} failed: ${(error as { code?: string }).code ?? String(error)}`;
    }
  }
  if (addresses.length > 0) return { kind: "addresses", addresses };
  if (temporary !== null) return { kind: "none", permanent: false, reason: temporary };
  return { kind: "none", permanent: true, reason: `${name} has no A or AAAA record` };
}
