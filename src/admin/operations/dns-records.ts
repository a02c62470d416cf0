// `mailroom dns <domain>`: the DNS records a domain needs to send and receive with this server,
// in zone-file form (RFC 1035 §5.1) to paste into the zone. Pure: the caller supplies the host
// name, the DKIM records and the configured listeners.
import { mtaStsPolicyIdOfLines } from "../../http/mta-sts.js";
import { isIP } from "node:net";
import type { ListenerConfig } from "../../config/index.js";
import type { TlsaKeyReport } from "../../net/tlsa-keys.js";

export interface DnsRecordInput {
  domain: string;
  /** This server's name: the MX target and the SRV targets. */
  hostname: string;
  /** [selector, TXT value] of each active DKIM key. */
  dkim: [selector: string, txt: string][];
  /** The configured listeners: the SRV records say what they offer, on their ports. */
  listeners: readonly ListenerConfig[];
  /** The MTA-STS policy lines served at mta-sts.<domain> (http/mta-sts.ts); a testing policy for the host when absent. */
  mtaStsPolicy?: readonly string[];
  /** An https: rua for the _smtp._tls record (RFC 8460 §3) beside the mailto: one, when reports are taken by POST. */
  tlsReportUri?: string;
  /** The TLSA records of this server's SMTP key (net/tlsa-keys.ts), for DANE (RFC 7672). */
  tlsa?: TlsaKeyReport | null;
}

/** The three mail-client services of RFC 6186 §3.1 and RFC 8314 §5.1, implicit TLS first. */
const CLIENT_SERVICES = [
  { family: "submission", implicit: { service: "_submissions._tcp", protocol: "submissions" }, starttls: { service: "_submission._tcp", protocol: "submission" } },
  { family: "IMAP", implicit: { service: "_imaps._tcp", protocol: "imaps" }, starttls: { service: "_imap._tcp", protocol: "imap" } },
  { family: "POP3", implicit: { service: "_pop3s._tcp", protocol: "pop3s" }, starttls: { service: "_pop3._tcp", protocol: "pop3" } },
] as const;

/**
 * RFC 8314 §5.1: clients prefer the lower SRV priority across a service's implicit-TLS and STARTTLS
 * records, and implicit TLS is to be preferred; so it gets 0 and STARTTLS 10.
 */
const PRIORITY = { implicit: 0, starttls: 10 } as const;

export interface SrvRecord {
  service: string;
  priority: number;
  weight: number;
  port: number;
  /** "." with port 0: the service is decidedly not offered (RFC 2782, RFC 6186 §3.4). */
  target: string;
}

/**
 * The SRV records of the client services from the listeners, with a comment for each listener
 * left out: one bound to loopback or to port 0 (no fixed port to publish), or one without TLS
 * (RFC 8314 §3: clients must not be sent to cleartext).
 */
export function clientSrvRecords(listeners: readonly ListenerConfig[], host: string): { records: SrvRecord[]; notes: string[] } {
  const records: SrvRecord[] = [];
  const notes: string[] = [];
  for (const { implicit, starttls } of CLIENT_SERVICES) {
    for (const [kind, variant] of [["implicit", implicit], ["starttls", starttls]] as const) {
      const ports = new Set<number>();
      for (const listener of listeners.filter((l) => l.protocol === variant.protocol)) {
        const at = `the ${listener.protocol} listener on ${listener.address}:${listener.port}`;
        if (isLoopback(listener.address)) notes.push(`${variant.service}: ${at} is bound to loopback only; not published`);
        else if (listener.port === 0) notes.push(`${variant.service}: ${at} has no fixed port; not published`);
        else if (listener.tls === "none") notes.push(`${variant.service}: ${at} offers no TLS (tls = "none"); not published (RFC 8314 §3)`);
        else ports.add(listener.port);
      }
      for (const port of [...ports].sort((a, b) => a - b)) records.push({ service: variant.service, priority: PRIORITY[kind], weight: 1, port, target: host });
      if (ports.size === 0) records.push({ service: variant.service, priority: 0, weight: 0, port: 0, target: "." });
    }
  }
  return { records, notes };
}

function isLoopback(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, "");
  if (isIP(bare) === 4) return bare.startsWith("127.");
  return bare === "::1" || bare === "localhost" || /^::ffff:127\./i.test(bare);
}

/** RFC 1035 §3.3.14: one TXT character-string holds at most 255 octets; longer values are split. */
export function txtStrings(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255).replace(/(["\\])/g, "\\$1")}"`);
  return parts.length > 1 ? `( ${parts.join(" ")} )` : (parts[0] ?? '""');
}

/** What `mailroom dns check` compares with the live DNS; `value` is TXT text unquoted, else zone-file form. */
export interface RecommendedRecord {
  kind: "mx" | "spf" | "dkim" | "dmarc" | "mta-sts" | "tls-rpt" | "srv" | "alias";
  owner: string;
  type: "MX" | "TXT" | "SRV" | "CNAME";
  value: string;
  srv?: SrvRecord;
}

export interface RecommendedRecords {
  domain: string;
  /** The host name with its trailing dot. */
  host: string;
  records: RecommendedRecord[];
  /** The MTA-STS policy lines the _mta-sts id is the digest of. */
  mtaStsPolicy: readonly string[];
  srvNotes: string[];
}

/** Every record `mailroom dns` prints, as data: one place for the values, printed or checked. */
export function recommendedRecords(input: DnsRecordInput): RecommendedRecords {
  const domain = input.domain.toLowerCase();
  const host = `${input.hostname.toLowerCase().replace(/\.$/, "")}.`;
  const name = (label: string) => (label === "" ? `${domain}.` : `${label}.${domain}.`);
  // RFC 8461 §3.2: the policy served at https://mta-sts.<domain>/.well-known/mta-sts.txt; the id
  // changes whenever the policy does.
  const policy = input.mtaStsPolicy ?? ["version: STSv1", "mode: testing", `mx: ${host.slice(0, -1)}`, "max_age: 604800"];
  const policyId = mtaStsPolicyIdOfLines(policy);
  const records: RecommendedRecord[] = [
    { kind: "mx", owner: name(""), type: "MX", value: `10 ${host}` },
    { kind: "spf", owner: name(""), type: "TXT", value: "v=spf1 mx -all" },
    ...input.dkim.map(([selector, txt]): RecommendedRecord => ({ kind: "dkim", owner: name(`${selector}._domainkey`), type: "TXT", value: txt })),
    { kind: "dmarc", owner: name("_dmarc"), type: "TXT", value: `v=DMARC1; p=none; rua=mailto:postmaster@${domain}` },
    { kind: "mta-sts", owner: name("_mta-sts"), type: "TXT", value: `v=STSv1; id=${policyId}` },
    { kind: "tls-rpt", owner: name("_smtp._tls"), type: "TXT", value: `v=TLSRPTv1; rua=mailto:postmaster@${domain}${input.tlsReportUri ? `,${input.tlsReportUri}` : ""}` },
  ];
  const srv = clientSrvRecords(input.listeners, host);
  for (const r of srv.records) records.push({ kind: "srv", owner: name(r.service), type: "SRV", value: `${r.priority} ${r.weight} ${r.port} ${r.target}`, srv: r });
  for (const label of ["autoconfig", "autodiscover", "mta-sts"]) records.push({ kind: "alias", owner: name(label), type: "CNAME", value: host });
  return { domain, host, records, mtaStsPolicy: policy, srvNotes: srv.notes };
}

export function renderDnsRecords(input: DnsRecordInput): string {
  const { domain, host, records, mtaStsPolicy: policy, srvNotes } = recommendedRecords(input);
  const lines: string[] = [];
  const print = (kind: RecommendedRecord["kind"]) => {
    for (const r of records.filter((record) => record.kind === kind)) lines.push(`${r.owner.padEnd(40)} 3600 IN ${r.type.padEnd(5)} ${r.type === "TXT" ? txtStrings(r.value) : r.value}`);
  };

  lines.push(`; DNS records for ${domain} served by ${host.slice(0, -1)}: paste into the ${domain} zone.`, "");
  lines.push("; Receiving mail (RFC 5321 §5.1)");
  print("mx");
  lines.push("", "; Sender policy (RFC 7208): only the MX hosts send for this domain");
  print("spf");
  lines.push("", "; DKIM public keys (RFC 6376 §3.6.1, RFC 8463): mail from this domain is signed with each");
  if (input.dkim.length === 0) lines.push(`; (no DKIM keys yet: run mailroom dkim rotate ${domain})`);
  print("dkim");
  lines.push("", "; DMARC (RFC 7489): start with p=none, then quarantine or reject once reports look right");
  print("dmarc");
  lines.push("", "; MTA-STS (RFC 8461): also serve this policy at https://mta-sts." + domain + "/.well-known/mta-sts.txt:");
  for (const line of policy) lines.push(`;   ${line}`);
  print("mta-sts");
  lines.push("", input.tlsReportUri ? `; SMTP TLS reporting (RFC 8460): reports by mail to postmaster, or POSTed to ${input.tlsReportUri} (§5.2)` : "; SMTP TLS reporting (RFC 8460): reports by mail to postmaster");
  print("tls-rpt");
  if (input.tlsa) {
    lines.push("", `; DANE (RFC 7672): TLSA records of ${host.slice(0, -1)}'s key (DANE-EE, SPKI, SHA-256), so senders that check DNSSEC`);
    lines.push(`; authenticate this server. They belong in the zone of ${host.slice(0, -1)}, which must be DNSSEC-signed; publish every line.`);
    for (const warning of input.tlsa.warnings) lines.push(`; WARNING: ${warning}`);
    for (const record of input.tlsa.records) lines.push(`; ${record.note}`, `${input.tlsa.owner.padEnd(40)} 3600 IN TLSA  ${record.value}`);
  }
  lines.push("", "; Mail client auto-configuration (RFC 6186, RFC 8314 §5.1): priority weight port target.");
  lines.push("; Implicit TLS is preferred (priority 0) over STARTTLS (10); target \".\" means not offered here.");
  for (const note of srvNotes) lines.push(`; ${note}`);
  print("srv");
  lines.push("", "; Host names the HTTP side answers for ([http]): Thunderbird autoconfig, Outlook Autodiscover, the MTA-STS policy.");
  lines.push("; Their HTTPS certificate must cover these names (tls.cert_file, or [acme]).");
  print("alias");
  return lines.join("\n") + "\n";
}
