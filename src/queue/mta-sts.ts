// MTA-STS (RFC 8461): a recipient domain that publishes `_mta-sts.<domain>` TXT serves a policy
// at https://mta-sts.<domain>/.well-known/mta-sts.txt naming its MX hosts and a mode. In mode
// enforce we deliver only to MX hosts the policy names, over TLS with a certificate valid for the
// MX name (RFC 8461 §4.2); in mode testing we deliver as usual and log what enforce would have
// refused. Policies are cached in memory for their max_age (§5.1): a failed refresh keeps the
// cached policy, and a TXT id equal to the cached one skips the fetch.
import { request } from "node:https";
import { rootCertificates } from "node:tls";
import type { LookupFunction } from "node:net";
import { isNegativeAnswer, type DnsResolver } from "../mail-auth/index.js";

export type MtaStsMode = "enforce" | "testing" | "none";

export interface MtaStsPolicy {
  mode: MtaStsMode;
  /** MX patterns: "mx.example.com" or "*.example.com" (RFC 8461 §3.2). */
  mx: string[];
  /** Seconds. */
  maxAge: number;
}

/** One HTTPS GET of a policy file: its status, media type and body. */
export type PolicyFetcher = (domain: string) => Promise<{ status: number; contentType: string | null; body: string }>;

/** RFC 8461 §3.1: "v=STSv1; id=<1-32 alphanumerics>"; null when the record is not one. */
export function parseStsRecord(txt: string): { id: string } | null {
  const fields = txt.split(";").map((f) => f.trim()).filter((f) => f !== "");
  if (fields[0] !== "v=STSv1") return null;
  const id = fields.map((f) => /^id=([A-Za-z0-9]{1,32})$/.exec(f)?.[1]).find((v) => v !== undefined);
  return id === undefined ? null : { id };
}

/** RFC 8461 §3.2: "key: value" lines; version, mode and max_age required, mx for every mode but none. */
export function parsePolicy(text: string): MtaStsPolicy {
  const values = new Map<string, string[]>();
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`MTA-STS policy: malformed line ${JSON.stringify(line)}`);
    const key = line.slice(0, colon).trim();
    values.set(key, [...(values.get(key) ?? []), line.slice(colon + 1).trim()]);
  }
  if (values.get("version")?.[0] !== "STSv1") throw new Error("MTA-STS policy: version is not STSv1");
  const mode = values.get("mode")?.[0];
  if (mode !== "enforce" && mode !== "testing" && mode !== "none") throw new Error(`MTA-STS policy: unknown mode ${JSON.stringify(mode)}`);
  const maxAgeText = values.get("max_age")?.[0] ?? "";
  // §3.2: max_age is a plain integer up to 31557600 (one year).
  if (!/^\d{1,10}$/.test(maxAgeText) || Number(maxAgeText) > 31_557_600) throw new Error(`MTA-STS policy: bad max_age ${JSON.stringify(maxAgeText)}`);
  const mx = (values.get("mx") ?? []).map((m) => m.toLowerCase().replace(/\.$/, ""));
  if (mode !== "none" && mx.length === 0) throw new Error("MTA-STS policy: no mx line");
  return { mode, mx, maxAge: Number(maxAgeText) };
}

/** RFC 8461 §4.1: exact match, or "*." matching exactly one leftmost label. */
export function mxMatches(patterns: readonly string[], host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, "");
  return patterns.some((pattern) => {
    if (!pattern.startsWith("*.")) return pattern === name;
    const dot = name.indexOf(".");
    return dot > 0 && name.slice(dot + 1) === pattern.slice(2);
  });
}

export interface HttpsFetcherOptions {
  /** Finds mta-sts.<domain>'s address: the same resolver the delivery uses. */
  resolver: DnsResolver;
  /** Extra trust anchors (PEM), e.g. a test CA; the system's are used too. */
  ca?: string | Buffer;
  /** 443; tests serve elsewhere. */
  port?: number;
  timeoutMs: number;
}

/**
 * The real fetcher: HTTPS with certificate validation for mta-sts.<domain> (RFC 8461 §3.3), no
 * redirects followed, at most 64 KiB read (the RFC's suggested limit), the name resolved through
 * our resolver (A records).
 */
export function createHttpsPolicyFetcher(options: HttpsFetcherOptions): PolicyFetcher {
  const lookup: LookupFunction = (hostname, lookupOptions, callback) => {
    options.resolver(hostname, "A").then(
      (addresses) => {
        const first = addresses[0];
        if (first === undefined) callback(Object.assign(new Error(`${hostname}: no address`), { code: "ENOTFOUND" }), "", 4);
        else if ((lookupOptions as { all?: boolean }).all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, addresses.map((address) => ({ address, family: 4 })));
        else callback(null, first, 4);
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, "", 4),
    );
  };
  return (domain) =>
    new Promise((resolve, reject) => {
      const host = `mta-sts.${domain}`;
      const req = request(
        { host, servername: host, port: options.port ?? 443, path: "/.well-known/mta-sts.txt", method: "GET", lookup, timeout: options.timeoutMs, ...(options.ca ? { ca: [...rootCertificates, options.ca] } : {}) },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > 64 * 1024) req.destroy(new Error("MTA-STS policy larger than 64 KiB"));
            else chunks.push(chunk);
          });
          response.on("end", () => resolve({ status: response.statusCode ?? 0, contentType: response.headers["content-type"] ?? null, body: Buffer.concat(chunks).toString("utf8") }));
          response.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`MTA-STS policy fetch from ${host}: no answer within ${options.timeoutMs} ms`)));
      req.on("error", reject);
      req.end();
    });
}

export interface MtaStsOptions {
  resolver: DnsResolver;
  fetch: PolicyFetcher;
  clock?: () => number;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

interface Cached {
  id: string;
  policy: MtaStsPolicy;
  expiresAt: number;
}

/** The policy in force for a domain, or null when it has none (or only mode none). */
export type MtaStsLookup = (domain: string) => Promise<MtaStsPolicy | null>;

export function createMtaStsLookup(options: MtaStsOptions): MtaStsLookup {
  const cache = new Map<string, Cached>();
  const clock = options.clock ?? Date.now;
  const log = options.log ?? (() => undefined);
  const valid = (domain: string): Cached | null => {
    const entry = cache.get(domain);
    return entry && entry.expiresAt > clock() ? entry : null;
  };
  const usable = (policy: MtaStsPolicy | undefined) => (policy && policy.mode !== "none" ? policy : null);

  return async (rawDomain) => {
    const domain = rawDomain.toLowerCase();
    let record: { id: string } | null = null;
    try {
      const records = (await options.resolver(`_mta-sts.${domain}`, "TXT")).map((strings) => parseStsRecord(strings.join(""))).filter((r) => r !== null);
      // §3.1: more than one STSv1 record is as if there were none.
      record = records.length === 1 ? records[0]! : null;
    } catch (error) {
      if (!isNegativeAnswer(error)) log("mta_sts.txt_failed", { domain, error: String(error) });
    }
    const cached = valid(domain);
    // §5.1: no record (or a failed lookup) leaves a cached policy in force until it expires.
    if (record === null) return usable(cached?.policy);
    if (cached && cached.id === record.id) return usable(cached.policy);
    try {
      const answer = await options.fetch(domain);
      // §3.3: 200 with media type text/plain, nothing else counts.
      if (answer.status !== 200) throw new Error(`HTTP status ${answer.status}`);
      if (!/^text\/plain\b/i.test(answer.contentType ?? "")) throw new Error(`media type ${answer.contentType ?? "(none)"}`);
      const policy = parsePolicy(answer.body);
      cache.set(domain, { id: record.id, policy, expiresAt: clock() + policy.maxAge * 1000 });
      return usable(policy);
    } catch (error) {
      log("mta_sts.fetch_failed", { domain, error: error instanceof Error ? error.message : String(error) });
      return usable(cached?.policy);
    }
  };
}
