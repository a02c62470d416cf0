// `mailroom dns <domain>`: the DNS records a domain needs to send and receive with this server,
// in zone-file form (RFC 1035 §5.1) to paste into the zone. Pure: the caller supplies the host
// name, the DKIM records and the ports.
import { createHash } from "node:crypto";

export interface DnsRecordInput {
  domain: string;
  /** This server's name: the MX target and the SRV targets. */
  hostname: string;
  /** [selector, TXT value] of each active DKIM key. */
  dkim: [selector: string, txt: string][];
}

/** RFC 1035 §3.3.14: one TXT character-string holds at most 255 octets; longer values are split. */
export function txtStrings(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255).replace(/(["\\])/g, "\\$1")}"`);
  return parts.length > 1 ? `( ${parts.join(" ")} )` : (parts[0] ?? '""');
}

export function renderDnsRecords(input: DnsRecordInput): string {
  const domain = input.domain.toLowerCase();
  const host = `${input.hostname.toLowerCase().replace(/\.$/, "")}.`;
  const name = (label: string) => (label === "" ? `${domain}.` : `${label}.${domain}.`);
  const lines: string[] = [];
  const record = (owner: string, type: string, value: string) => lines.push(`${owner.padEnd(40)} 3600 IN ${type.padEnd(5)} ${value}`);
  // RFC 8461 §3.2: the policy served at https://mta-sts.<domain>/.well-known/mta-sts.txt; the id
  // changes whenever the policy does.
  const policy = ["version: STSv1", "mode: testing", `mx: ${host.slice(0, -1)}`, "max_age: 604800"];
  const policyId = createHash("sha256").update(policy.join("\n")).digest("hex").slice(0, 16);

  lines.push(`; DNS records for ${domain} served by ${host.slice(0, -1)}: paste into the ${domain} zone.`, "");
  lines.push("; Receiving mail (RFC 5321 §5.1)");
  record(name(""), "MX", `10 ${host}`);
  lines.push("", "; Sender policy (RFC 7208): only the MX hosts send for this domain");
  record(name(""), "TXT", txtStrings("v=spf1 mx -all"));
  lines.push("", "; DKIM public keys (RFC 6376 §3.6.1, RFC 8463): mail from this domain is signed with each");
  if (input.dkim.length === 0) lines.push(`; (no DKIM keys yet: run mailroom dkim rotate ${domain})`);
  for (const [selector, txt] of input.dkim) record(name(`${selector}._domainkey`), "TXT", txtStrings(txt));
  lines.push("", "; DMARC (RFC 7489): start with p=none, then quarantine or reject once reports look right");
  record(name("_dmarc"), "TXT", txtStrings(`v=DMARC1; p=none; rua=mailto:postmaster@${domain}`));
  lines.push("", "; MTA-STS (RFC 8461): also serve this policy at https://mta-sts." + domain + "/.well-known/mta-sts.txt:");
  for (const line of policy) lines.push(`;   ${line}`);
  record(name("_mta-sts"), "TXT", txtStrings(`v=STSv1; id=${policyId}`));
  lines.push("", "; SMTP TLS reporting (RFC 8460)");
  record(name("_smtp._tls"), "TXT", txtStrings(`v=TLSRPTv1; rua=mailto:postmaster@${domain}`));
  lines.push("", "; Mail client auto-configuration (RFC 6186, RFC 8314 §5.1): priority weight port target");
  for (const [service, port] of [["_submissions._tcp", 465], ["_submission._tcp", 587], ["_imaps._tcp", 993], ["_imap._tcp", 143], ["_pop3s._tcp", 995], ["_pop3._tcp", 110]] as const) {
    record(name(service), "SRV", `0 1 ${port} ${host}`);
  }
  return lines.join("\n") + "\n";
}
