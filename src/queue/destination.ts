// Where mail for a recipient domain goes: a smarthost for everything, a static route for the
// domain, or the domain's MX hosts (RFC 5321 §5.1), in that order of precedence. The answer is an
// ordered list of hosts to try; each host's addresses are looked up when it is tried.
import { isNegativeAnswer, type DnsResolver } from "../mail-auth/index.js";
import type { ClientTlsMode } from "./smtp-client.js";
import { mxMatches, type MtaStsLookup, type MtaStsPolicy } from "./mta-sts.js";
import { tlsaText } from "./tlsa.js";
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
  /**
   * Each DANE-governed host's result (authenticated, or why not), once per host attempt, for logs
   * and tests; TLS-RPT counts the same outcomes itself (queue/delivery-attempt.ts).
   */
  onDaneOutcome?: (outcome: DaneOutcome) => void;
  /**
   * false: the message carries `TLS-Required: No` (RFC 8689 §4.2.2), so recipient-side TLS policies
   * (MTA-STS here, DANE) are not applied; queue/require-tls.ts sets it. Absent means true.
   */
  recipientPolicies?: boolean;
}

/** The TLS-RPT policy a host was chosen under (RFC 8460 §4.4), for queue/tls-rpt-recorder.ts. */
export interface TlsRptPolicy {
  type: "sts" | "tlsa" | "no-policy-found";
  /** The policy domain: the recipient domain. */
  domain: string;
  /** policy-string: the MTA-STS policy's lines, or the TLSA records. */
  strings: string[];
  /** mx-host: the policy's MX patterns (MTA-STS). */
  mxHost: string[];
}

export interface DestinationHost {
  /** Host name (or IP literal) as found: the TLS server name, the Remote-MTA of DSNs. */
  name: string;
  port: number;
  tls: ClientTlsMode;
  auth: { username: string; password: string } | null;
  /** The certificate must be valid for `name` (an MTA-STS policy in mode enforce, RFC 8461 §4.2). */
  verifyCertificate?: boolean;
  /**
   * How this host's name is known to be the domain's MX (RFC 8689 §4.2.1): the MX records (or
   * their secure denial) were DNSSEC-validated ("dnssec", set by applyDane below) or an MTA-STS
   * policy in mode enforce names it ("mta-sts"); null or absent when neither. REQUIRETLS needs one.
   */
  mxAuthenticated?: "dnssec" | "mta-sts" | null;
  /** The host's DANE policy (queue/dane.ts), when DANE is on and the MX lookup was validated. */
  dane?: DanePolicy;
  /** REQUIRETLS (RFC 8689): the server must offer REQUIRETLS and gets it on MAIL FROM. */
  requireTls?: boolean;
  /** The TLS-RPT policy (RFC 8460) sessions with this host are counted under; absent: no-policy-found. */
  tlsPolicy?: TlsRptPolicy;
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
    return applyMtaSts(domain, await applyDane(domain, implicit, secureDenial, options), options);
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
  return applyMtaSts(domain, await applyDane(domain, { kind: "hosts", via: "mx", hosts }, mxSecure, options), options);
}

/**
 * RFC 7672 §2.2: each host's DANE policy from the validating resolver. Hosts with TLSA records
 * get TLS made mandatory here; their authentication happens in the TLS session (delivery-attempt).
 * A validated MX lookup also authenticates the host names for REQUIRETLS (RFC 8689 §4.2.1,
 * mxAuthenticated "dnssec"), TLSA records or not. A message with `TLS-Required: No`
 * (recipientPolicies false) gets no DANE policy: the recipient's policies are off for it.
 */
async function applyDane(domain: string, destination: Destination & { kind: "hosts" }, mxSecure: boolean, options: RoutingOptions): Promise<Destination & { kind: "hosts" }> {
  const dane = options.dane;
  if (!dane) return destination;
  const authenticated: Partial<DestinationHost> = mxSecure ? { mxAuthenticated: "dnssec" } : {};
  const hosts = await Promise.all(
    destination.hosts.map(async (host): Promise<DestinationHost> => {
      if (ipLiteral(host.name) !== null || options.recipientPolicies === false) return { ...host, ...authenticated };
      const policy = await dane.policyFor(host.name, host.port, mxSecure);
      if (policy.mode === "none") return { ...host, ...authenticated, dane: policy };
      return { ...host, ...authenticated, dane: policy, tlsPolicy: tlsaReportPolicy(domain, host, policy), ...(policy.mode === "dane" || policy.mode === "encrypt" ? { tls: "required" as const } : {}) };
    }),
  );
  return { ...destination, hosts };
}

/**
 * RFC 8460 §4.4: a DANE host's sessions are reported under policy-type "tlsa", its TLSA records
 * in presentation form as policy-string (none when they could not be had) and the MX host as
 * mx-host. The policy domain is the recipient domain: the one whose _smtp._tls record gets the report.
 */
function tlsaReportPolicy(domain: string, host: DestinationHost, policy: DanePolicy): TlsRptPolicy {
  const strings = policy.mode === "dane" || policy.mode === "encrypt" ? policy.tlsa.map(tlsaText) : [];
  return { type: "tlsa", domain, strings, mxHost: [host.name] };
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
async function applyMtaSts(domain: string, found: Destination & { kind: "hosts" }, options: RoutingOptions): Promise<Destination> {
  if (!options.mtaSts || options.recipientPolicies === false) return found;
  const policy = await options.mtaSts(domain);
  if (policy === null) return found;
  // A DANE host keeps its "tlsa" report policy: its sessions are governed (and counted) by DANE.
  const tlsPolicy = stsReportPolicy(domain, policy);
  const destination = { ...found, hosts: found.hosts.map((host) => (daneGoverned(host) ? host : { ...host, tlsPolicy })) };
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
  // A DANE host is authenticated its own way (and its MX by DNSSEC): the policy adds nothing to it.
  return { ...destination, hosts: matching.map((host) => (daneGoverned(host) ? host : { ...host, tls: "required", verifyCertificate: true, mxAuthenticated: host.mxAuthenticated ?? "mta-sts" })) };
}

/** RFC 8460 §4.4: an MTA-STS policy as a report names it, its lines as policy-string. */
function stsReportPolicy(domain: string, policy: MtaStsPolicy): TlsRptPolicy {
  const strings = ["version: STSv1", `mode: ${policy.mode}`, ...policy.mx.map((mx) => `mx: ${mx}`), `max_age: ${policy.maxAge}`];
  return { type: "sts", domain, strings, mxHost: policy.mx };
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
