// DNS for sender authentication and, later, outbound MX lookups. One function shape serves all:
// `resolver(name, rrtype)` answers the way node:dns/promises `resolve` does (TXT as string[][],
// MX as {exchange, priority}[], A/AAAA/PTR as string[]) and fails with an Error whose `code` is
// one of node's DNS codes. That is exactly what mailauth calls, so the SPF (RFC 7208 §4.6.4),
// DKIM key (RFC 6376 §3.6.2) and DMARC record (RFC 7489 §6.1) lookups all go through us.
// Three implementations: the system resolver (with a hard deadline), a bounded caching layer with
// negative caching (RFC 2308), and a table-driven fake so tests never touch the network.
import { Resolver } from "node:dns/promises";

export type DnsRecordType = "A" | "AAAA" | "MX" | "TXT" | "PTR";
export const DNS_RECORD_TYPES: readonly DnsRecordType[] = ["A", "AAAA", "MX", "TXT", "PTR"];

export interface MxRecord {
  exchange: string;
  priority: number;
}

/** What each record type resolves to; the shapes node:dns/promises uses. */
export interface DnsAnswer {
  A: string[];
  AAAA: string[];
  MX: MxRecord[];
  /** One entry per TXT record, each split into its character-strings (RFC 1035 §3.3.14). */
  TXT: string[][];
  PTR: string[];
}

export interface DnsResolver {
  <T extends DnsRecordType>(name: string, rrtype: T): Promise<DnsAnswer[T]>;
}

/**
 * The error codes callers act on. ENOTFOUND (NXDOMAIN) and ENODATA (name exists, no such type)
 * are definite answers; everything else is a temporary failure for SPF/DKIM/DMARC purposes.
 */
export type DnsErrorCode = "ENOTFOUND" | "ENODATA" | "ETIMEOUT" | "ESERVFAIL" | "EREFUSED" | "ECONNREFUSED" | "EBADNAME";

export class DnsError extends Error {
  readonly code: DnsErrorCode;
  readonly hostname: string;
  readonly rrtype: string;
  constructor(code: DnsErrorCode, hostname: string, rrtype: string) {
    super(`${rrtype} ${hostname}: ${code}`);
    this.name = "DnsError";
    this.code = code;
    this.hostname = hostname;
    this.rrtype = rrtype;
  }
}

/** True for answers that say "there is nothing", as opposed to "could not find out". */
export function isNegativeAnswer(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ENOTFOUND" || code === "ENODATA";
}

/** Lower-cased, without the trailing root dot: the key names are compared by (RFC 4343). */
function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

// ---------------------------------------------------------------------------------------------
// System resolver

export interface SystemResolverOptions {
  /** Hard deadline for one lookup, retries included. */
  timeoutMs: number;
  /** DNS servers ("ip" or "ip:port"); defaults to the system's. */
  servers?: string[];
}

/**
 * node:dns/promises over c-ares. c-ares retries with a growing per-try timeout, so its own
 * `timeout` bounds nothing overall; a timer enforces the deadline and fails with ETIMEOUT. The
 * abandoned query is not cancelled (Resolver.cancel() would cancel every query in flight), it
 * simply dies by its own per-try timeout.
 */
export function createSystemResolver(options: SystemResolverOptions): DnsResolver {
  const tries = 2;
  const resolver = new Resolver({ timeout: Math.max(1, Math.ceil(options.timeoutMs / tries)), tries });
  if (options.servers) resolver.setServers(options.servers);

  const query = (name: string, rrtype: DnsRecordType): Promise<unknown> => {
    switch (rrtype) {
      case "A":
        return resolver.resolve4(name);
      case "AAAA":
        return resolver.resolve6(name);
      case "MX":
        return resolver.resolveMx(name);
      case "TXT":
        return resolver.resolveTxt(name);
      case "PTR":
        return resolver.resolvePtr(name);
    }
  };

  const resolve = <T extends DnsRecordType>(name: string, rrtype: T): Promise<DnsAnswer[T]> => {
    if (!DNS_RECORD_TYPES.includes(rrtype)) return Promise.reject(new DnsError("EBADNAME", name, String(rrtype)));
    return new Promise<DnsAnswer[T]>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new DnsError("ETIMEOUT", name, rrtype)), options.timeoutMs);
      query(name, rrtype).then(
        (answer) => {
          clearTimeout(timer);
          resolvePromise(answer as DnsAnswer[T]);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  };
  return resolve;
}

// ---------------------------------------------------------------------------------------------
// Caching resolver

export interface CachingResolverOptions {
  /** Upper bound on cached answers; the least recently used is evicted first. */
  maxEntries: number;
  /** How long a positive answer is reused. */
  ttlMs: number;
  /** How long NXDOMAIN / NODATA is reused (RFC 2308); defaults to ttlMs. */
  negativeTtlMs?: number;
  /** Milliseconds since an arbitrary epoch; Date.now by default. */
  clock?: () => number;
}

type CacheEntry = { expiresAt: number; answer: unknown } | { expiresAt: number; error: unknown };

/**
 * Answers from an LRU of recent lookups. Temporary failures (timeouts, SERVFAIL) are never cached:
 * the next message should get a fresh chance. Concurrent identical lookups share one query.
 * Answers are copied on the way out so a caller that sorts an MX list cannot corrupt the cache.
 */
export function createCachingResolver(inner: DnsResolver, options: CachingResolverOptions): DnsResolver {
  if (!(options.maxEntries >= 1)) throw new RangeError("maxEntries must be at least 1");
  const clock = options.clock ?? Date.now;
  const negativeTtlMs = options.negativeTtlMs ?? options.ttlMs;
  // A Map iterates in insertion order; re-inserting on every hit keeps the oldest use first.
  const entries = new Map<string, CacheEntry>();
  const inFlight = new Map<string, Promise<unknown>>();

  const store = (key: string, entry: CacheEntry) => {
    entries.delete(key);
    entries.set(key, entry);
    while (entries.size > options.maxEntries) {
      const oldest = entries.keys().next();
      if (oldest.done) break;
      entries.delete(oldest.value);
    }
  };

  const resolve = async <T extends DnsRecordType>(name: string, rrtype: T): Promise<DnsAnswer[T]> => {
    const key = `${rrtype} ${canonicalName(name)}`;
    const cached = entries.get(key);
    if (cached) {
      if (cached.expiresAt > clock()) {
        entries.delete(key);
        entries.set(key, cached);
        if ("error" in cached) throw cached.error;
        return structuredClone(cached.answer) as DnsAnswer[T];
      }
      entries.delete(key);
    }
    let pending = inFlight.get(key);
    if (!pending) {
      pending = inner(name, rrtype).then(
        (answer) => {
          store(key, { expiresAt: clock() + options.ttlMs, answer });
          return answer;
        },
        (error: unknown) => {
          if (isNegativeAnswer(error)) store(key, { expiresAt: clock() + negativeTtlMs, error });
          throw error;
        },
      );
      const settled = () => inFlight.delete(key);
      pending.then(settled, settled);
      inFlight.set(key, pending);
    }
    return structuredClone(await pending) as DnsAnswer[T];
  };
  return resolve;
}

// ---------------------------------------------------------------------------------------------
// Table resolver (tests)

/** A record set that fails instead of answering, to simulate a broken or slow zone. */
export interface DnsFailure {
  fail: DnsErrorCode;
}

export type DnsTableEntry = { [T in DnsRecordType]?: DnsAnswer[T] | DnsFailure };
export type DnsTable = Record<string, DnsTableEntry>;

export interface TableResolverOptions {
  /** Delay before every answer, to exercise timeouts and concurrency. */
  delayMs?: number;
}

/**
 * The fake for tests: names not in the table are NXDOMAIN (ENOTFOUND), names in it without the
 * asked type are NODATA (ENODATA), `{ fail: code }` fails with that code. Names match
 * case-insensitively and with or without the trailing dot, as in real DNS.
 */
export function createTableResolver(records: DnsTable, options: TableResolverOptions = {}): DnsResolver {
  const table = new Map<string, DnsTableEntry>();
  for (const [name, entry] of Object.entries(records)) table.set(canonicalName(name), entry);

  const resolve = async <T extends DnsRecordType>(name: string, rrtype: T): Promise<DnsAnswer[T]> => {
    if (options.delayMs) await new Promise((done) => setTimeout(done, options.delayMs));
    const entry = table.get(canonicalName(name));
    if (!entry) throw new DnsError("ENOTFOUND", name, rrtype);
    const set = entry[rrtype] as DnsAnswer[T] | DnsFailure | undefined;
    if (set === undefined) throw new DnsError("ENODATA", name, rrtype);
    if (!Array.isArray(set)) throw new DnsError((set as DnsFailure).fail, name, rrtype);
    if (set.length === 0) throw new DnsError("ENODATA", name, rrtype);
    return structuredClone(set);
  };
  return resolve;
}
