// `mailroom dns check <domain>`: asks the live DNS for every record `mailroom dns` recommends (MX,
// SPF, DKIM, DMARC, MTA-STS, TLS-RPT, the client SRV records, the autoconfig/autodiscover/mta-sts
// names) and for the PTR of each address of the host name, and says for each, on one line, whether
// it is there ("ok"), absent ("missing"), there but not as recommended ("differs", with what was
// found), or could not be asked ("error", a timeout or SERVFAIL: not a verdict on the record).
// TLSA (DANE) records are printed by `mailroom dns` (net/tlsa-keys.ts) but not checked here: node's
// resolver cannot ask for TLSA.
import { Resolver } from "node:dns/promises";
import type { RecommendedRecord, RecommendedRecords } from "./dns-records.js";

export type CheckStatus = "ok" | "missing" | "differs" | "error";

export interface DnsCheckLine {
  status: CheckStatus;
  type: string;
  owner: string;
  detail: string;
}

/** The queries the check needs, in node:dns/promises shapes (a fake in unit tests, a Resolver otherwise). */
export interface DnsLookup {
  mx(name: string): Promise<{ exchange: string; priority: number }[]>;
  txt(name: string): Promise<string[][]>;
  srv(name: string): Promise<{ name: string; port: number; priority: number; weight: number }[]>;
  cname(name: string): Promise<string[]>;
  a(name: string): Promise<string[]>;
  aaaa(name: string): Promise<string[]>;
  ptr(address: string): Promise<string[]>;
}

/**
 * Live DNS through node's resolver: the servers of outbound.dns_servers ("ip", "ip:port",
 * "[v6]:port"), or the system's when empty; each query gives up after timeoutMs (and one retry).
 */
export function createDnsLookup(servers: readonly string[], timeoutMs = 5000): DnsLookup {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (servers.length > 0) resolver.setServers([...servers]);
  return {
    mx: (name) => resolver.resolveMx(name),
    txt: (name) => resolver.resolveTxt(name),
    srv: (name) => resolver.resolveSrv(name),
    cname: (name) => resolver.resolveCname(name),
    a: (name) => resolver.resolve4(name),
    aaaa: (name) => resolver.resolve6(name),
    ptr: (address) => resolver.reverse(address),
  };
}

/** NXDOMAIN or NODATA: the record is not there (anything else is "could not find out"). */
function isAbsent(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ENOTFOUND" || code === "ENODATA";
}

const bare = (name: string) => name.toLowerCase().replace(/\.$/, "");

/** Runs a query: its answer, [] when absent, or the error text when the DNS could not say. */
async function ask<T>(query: () => Promise<T[]>): Promise<T[] | { error: string }> {
  try {
    return await query();
  } catch (error) {
    if (isAbsent(error)) return [];
    const code = (error as { code?: unknown }).code;
    return { error: typeof code === "string" ? code : error instanceof Error ? error.message : String(error) };
  }
}

export async function checkDnsRecords(expected: RecommendedRecords, lookup: DnsLookup): Promise<DnsCheckLine[]> {
  const lines: DnsCheckLine[] = [];
  const line = (status: CheckStatus, record: Pick<RecommendedRecord, "type" | "owner">, detail: string) => lines.push({ status, type: record.type, owner: record.owner, detail });
  const host = bare(expected.host);
  const txtCache = new Map<string, Promise<string[] | { error: string }>>();
  const txt = (owner: string) => {
    let answer = txtCache.get(owner);
    if (answer === undefined) {
      // RFC 7208 §3.3 / RFC 6376 §3.6.2.2: a record's character-strings are joined without spaces.
      answer = ask(() => lookup.txt(owner)).then((result) => ("error" in result ? result : result.map((strings) => strings.join(""))));
      txtCache.set(owner, answer);
    }
    return answer;
  };

  for (const record of expected.records) {
    switch (record.kind) {
      case "mx": {
        const found = await ask(() => lookup.mx(record.owner));
        if ("error" in found) line("error", record, `cannot ask: ${found.error}`);
        else if (found.length === 0) line("missing", record, `want ${record.value}`);
        else if (found.some((mx) => bare(mx.exchange) === host)) line("ok", record, found.map((mx) => `${mx.priority} ${bare(mx.exchange)}.`).join(", "));
        else line("differs", record, `no MX names ${host}; found ${found.map((mx) => `${mx.priority} ${bare(mx.exchange)}.`).join(", ")}`);
        break;
      }
      case "spf":
      case "dmarc":
      case "tls-rpt":
      case "mta-sts":
      case "dkim": {
        const found = await txt(record.owner);
        if ("error" in found) {
          line("error", record, `cannot ask: ${found.error}`);
          break;
        }
        const tag = TAGS[record.kind];
        const ours = found.filter((text) => tag.test(text));
        if (ours.length === 0) line("missing", record, `want "${shorten(record.value)}"`);
        else if (ours.length > 1) line("differs", record, `${ours.length} records where one is allowed: ${ours.map((text) => `"${shorten(text)}"`).join(", ")}`);
        else {
          const [status, detail] = compareTxt(record, ours[0]!);
          line(status, record, detail);
        }
        break;
      }
      case "srv": {
        const want = record.srv!;
        const found = await ask(() => lookup.srv(record.owner));
        if ("error" in found) line("error", record, `cannot ask: ${found.error}`);
        else if (want.target === ".") {
          // RFC 6186 §3.4: "." says the service is not offered; no record says nothing, which is fine too.
          const offered = found.filter((srv) => srv.name !== "" && srv.name !== ".");
          if (offered.length === 0) line("ok", record, found.length === 0 ? "not offered, and not published" : "not offered (target .)");
          else line("differs", record, `this server does not offer it, but DNS sends clients to ${offered.map((srv) => `${bare(srv.name)}.:${srv.port}`).join(", ")}`);
        } else if (found.length === 0) line("missing", record, `want ${record.value}`);
        else if (found.some((srv) => bare(srv.name) === host && srv.port === want.port)) line("ok", record, found.map((srv) => `${srv.priority} ${srv.weight} ${srv.port} ${bare(srv.name)}.`).join(", "));
        else line("differs", record, `want ${record.value}; found ${found.map((srv) => `${srv.priority} ${srv.weight} ${srv.port} ${bare(srv.name)}.`).join(", ")}`);
        break;
      }
      case "alias": {
        const cname = await ask(() => lookup.cname(record.owner));
        if ("error" in cname) {
          line("error", record, `cannot ask: ${cname.error}`);
          break;
        }
        if (cname.some((target) => bare(target) === host)) {
          line("ok", record, `CNAME ${host}.`);
          break;
        }
        if (cname.length > 0) {
          line("differs", record, `CNAME to ${cname.map((target) => `${bare(target)}.`).join(", ")}, want ${host}.`);
          break;
        }
        // An A/AAAA record with the host's addresses serves as well as the CNAME.
        const [own, hostAddresses] = await Promise.all([addressesOf(lookup, record.owner), addressesOf(lookup, expected.host)]);
        if (own.length === 0) line("missing", record, `want CNAME ${host}. (or the host's addresses)`);
        else if (own.every((address) => hostAddresses.includes(address))) line("ok", record, `addresses ${own.join(", ")} (the host's)`);
        else line("differs", record, `addresses ${own.join(", ")}, but ${host} has ${hostAddresses.join(", ") || "none"}`);
        break;
      }
    }
  }

  // Reverse DNS (RFC 1912 §2.1): receivers check that each address of the host names it back.
  const owner = expected.host;
  const addresses = await addressesOf(lookup, owner);
  if (addresses.length === 0) lines.push({ status: "missing", type: "A", owner, detail: `${host} has no A or AAAA record: nothing can reach the MX` });
  for (const address of addresses) {
    const names = await ask(() => lookup.ptr(address));
    const entry = { type: "PTR", owner: address };
    if ("error" in names) lines.push({ ...entry, status: "error", detail: `cannot ask: ${names.error}` });
    else if (names.length === 0) lines.push({ ...entry, status: "missing", detail: `want ${host}. (ask the address's provider to set it)` });
    else if (names.some((name) => bare(name) === host)) lines.push({ ...entry, status: "ok", detail: `${host}.` });
    else lines.push({ ...entry, status: "differs", detail: `names ${names.map((name) => `${bare(name)}.`).join(", ")}, want ${host}.` });
  }
  return lines;
}

const TAGS: Record<"spf" | "dmarc" | "tls-rpt" | "mta-sts" | "dkim", RegExp> = {
  spf: /^v=spf1(\s|$)/i,
  dmarc: /^v=DMARC1\s*(;|$)/i,
  "tls-rpt": /^v=TLSRPTv1\s*(;|$)/i,
  "mta-sts": /^v=STSv1\s*(;|$)/i,
  // A DKIM key record may omit v= (RFC 6376 §3.6.1); any record with a p= tag is one.
  dkim: /(^|;)\s*p=/i,
};

/** Compares the one record of its kind found with the recommendation. */
function compareTxt(record: RecommendedRecord, found: string): [CheckStatus, string] {
  const tags = (text: string) => new Map(text.split(";").map((part) => part.trim()).filter((part) => part.includes("=")).map((part) => [part.slice(0, part.indexOf("=")).trim().toLowerCase(), part.slice(part.indexOf("=") + 1).trim()] as const));
  const want = tags(record.value);
  const have = tags(found);
  const quoted = `"${shorten(found)}"`;
  switch (record.kind) {
    case "spf":
      // Any policy that lets the MX send is the operator's to choose; "mx" (or the host) and a closing all are checked.
      return /\s(\+?mx|a:|ip[46]:|include:)/i.test(found) && /\s[-~?]?all\s*$/i.test(found) ? ["ok", quoted] : ["differs", `${quoted}; want "${record.value}" (no mechanism lets this server send)`];
    case "dkim": {
      const key = (have.get("p") ?? "").replace(/\s+/g, "");
      return key === (want.get("p") ?? "").replace(/\s+/g, "") ? ["ok", `key matches (${key.length} characters)`] : ["differs", `a different key is published: p=${shorten(key, 24)}…; publish the current one (mailroom dns)`];
    }
    case "mta-sts":
      return have.get("id") === want.get("id") ? ["ok", quoted] : ["differs", `id=${have.get("id") ?? "(none)"}, but the policy served now has id=${want.get("id")}: update the id so senders fetch it again`];
    case "dmarc":
      return have.has("p") ? ["ok", `${quoted}`] : ["differs", `${quoted} has no p= tag (RFC 7489 §6.3)`];
    case "tls-rpt":
      return have.has("rua") ? ["ok", quoted] : ["differs", `${quoted} has no rua= (RFC 8460 §3)`];
    default:
      return found === record.value ? ["ok", quoted] : ["differs", quoted];
  }
}

async function addressesOf(lookup: DnsLookup, name: string): Promise<string[]> {
  const [four, six] = await Promise.all([ask(() => lookup.a(name)), ask(() => lookup.aaaa(name))]);
  return [...("error" in four ? [] : four), ...("error" in six ? [] : six)];
}

function shorten(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** One line per check: status, type, owner, what was found. */
export function formatDnsCheck(lines: readonly DnsCheckLine[]): string[] {
  return lines.map((entry) => `${entry.status.padEnd(8)} ${entry.type.padEnd(5)} ${entry.owner.padEnd(36)} ${entry.detail}`.trimEnd());
}
