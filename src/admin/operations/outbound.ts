// Administration of outbound mail: the queue (`mailroom queue list|show|retry|delete|flush`),
// DKIM keys (`mailroom dkim rotate`, and keys for `domain add`) and the DNS records to publish
// (`mailroom dns`). Retry and flush only move the next attempt to now: the server's workers do
// the delivery, so an entry is never attempted by two processes at once.
import { dkimTxtRecord, generateDkimKeys, loadDkimKeys, type DkimKeyLocation } from "../../mail-auth/index.js";
import type { AccountStore, QueuedMessage, QueueStore } from "../../store/index.js";
import { isStoreError } from "../../store/index.js";
import type { ListenerConfig } from "../../config/index.js";
import { checkDnsRecords, createDnsLookup, formatDnsCheck, type DnsLookup } from "./dns-check.js";
import { recommendedRecords, renderDnsRecords, txtStrings, type DnsRecordInput } from "./dns-records.js";
import type { DnsCheckLine } from "./dns-check.js";
import { AdminError, normaliseAddress, normaliseDomain } from "./validation.js";
import type { TlsaKeyReport } from "../../net/tlsa-keys.js";

export interface OutboundAdminDependencies {
  accounts: Pick<AccountStore, "isLocalDomain">;
  queue: QueueStore;
  /** Where per-domain DKIM keys live, and the selector new keys get. */
  /** keyDir: a directory (embedded store) or the shared store's DKIM keys (PostgreSQL). */
  dkim: { keyDir: DkimKeyLocation; selector: string };
  /** This server's host name, for `mailroom dns`. */
  hostname: string;
  /** The configured listeners, for the SRV records of `mailroom dns`. */
  listeners: readonly ListenerConfig[];
  /** The MTA-STS policy lines the HTTP side serves ([http] mta_sts_*), so the printed id matches it. */
  mtaStsPolicy?: readonly string[];
  /** The https rua of the _smtp._tls record, when the HTTP side takes TLS-RPT reports (http/tls-rpt.ts). */
  tlsReportUri?: string;
  /** The TLSA records of this server's key for `mailroom dns` (net/tlsa-keys.ts). */
  tlsaKeys?: () => Promise<TlsaKeyReport | null>;
  /** outbound.dns_servers, for `mailroom dns check` (empty: the system's resolvers). */
  dnsServers?: readonly string[];
  /** Replaces the live DNS in tests. */
  dnsLookup?: DnsLookup;
  clock?: () => Date;
  /**
   * Inside the running server: returns an entry to its sender with a DSN (queue/worker.ts
   * bounceNow). Absent when the command runs without a server: `queue bounce` is then refused,
   * since only the server's outbound side can send the DSN.
   */
  bounce?: (entry: QueuedMessage, reason: string) => Promise<unknown>;
}

/**
 * `queue hold`: a held entry's next attempt is put this far ahead, so no worker leases it until
 * `queue release` (or retry) makes it due again. Kept in the queue's own column, so a hold
 * survives restarts and works the same on every backend and node without a schema change.
 */
export const HOLD_UNTIL = new Date(Date.UTC(9000, 0, 1));

/** Whether `queue hold` holds the entry. */
export function isHeld(entry: Pick<QueuedMessage, "nextAttemptAt">): boolean {
  return entry.nextAttemptAt.getTime() >= HOLD_UNTIL.getTime();
}

/** One recommended record for the admin pages: the zone line and, after a live check, its status. */
export interface DnsRecordRow {
  kind: string;
  owner: string;
  type: string;
  value: string;
  /** The line to paste into the zone file (RFC 1035 §5.1). */
  zoneLine: string;
}

/** What `mailroom queue list` and GET /api/v1/queue ask for; every field is checked (queuePage). */
export interface QueueListQuery {
  /** pending (never tried yet), deferred (tried, waiting for a retry), held (`queue hold`). */
  status?: string | undefined;
  /** Only entries with an open recipient in this domain. */
  domain?: string | undefined;
  /** Only entries with an open recipient at this address. */
  to?: string | undefined;
  /** The `next` of the page before. */
  after?: string | undefined;
  /** 1 to 1000; 50 when absent. */
  limit?: number | undefined;
}

export interface QueuePage {
  entries: QueuedMessage[];
  /** Pass as `after` for the next page; null on the last page. */
  next: string | null;
}

export const QUEUE_STATUSES = ["pending", "deferred", "held"] as const;
const MAX_QUEUE_PAGE = 1000;

/** A page cursor: the last entry's creation time (epoch ms) and id, "<ms>.<id>". */
function cursorOf(entry: QueuedMessage): string {
  return `${entry.createdAt.getTime()}.${entry.id}`;
}

function parseCursor(text: string): { createdAt: Date; id: number } {
  const match = /^(\d{1,15})\.(\d{1,15})$/.exec(text.trim());
  if (match === null) throw new AdminError("invalid-argument", `not a queue page cursor: ${JSON.stringify(text.slice(0, 40))} (use the "next" of the page before)`);
  return { createdAt: new Date(Number(match[1])), id: Number(match[2]) };
}

const isOpen = (entry: QueuedMessage) => entry.recipients.some((r) => r.state === "pending" || r.state === "deferred");

export function createOutboundOperations(deps: OutboundAdminDependencies) {
  const clock = deps.clock ?? (() => new Date());

  async function requireEntry(id: number): Promise<QueuedMessage> {
    const entry = Number.isSafeInteger(id) ? await deps.queue.getQueued(id) : null;
    if (entry === null) throw new AdminError("not-found", `no queued message ${id}`);
    return entry;
  }

  function requireIdle(entry: QueuedMessage): void {
    if (entry.leasedUntil !== null && entry.leasedUntil > clock()) {
      throw new AdminError("conflict", `queued message ${entry.id} is being delivered right now; try again in a moment`);
    }
  }

  async function requireLocalDomain(domain: string): Promise<string> {
    const name = normaliseDomain(domain);
    if (!(await deps.accounts.isLocalDomain(name))) throw new AdminError("not-found", `no such domain: ${name}`);
    return name;
  }

  async function recordInput(domain: string): Promise<DnsRecordInput> {
    const name = await requireLocalDomain(domain);
    const keys = await loadDkimKeys(deps.dkim.keyDir, name);
    const tlsa = deps.tlsaKeys ? await deps.tlsaKeys() : null;
    return { domain: name, ...(tlsa ? { tlsa } : {}), hostname: deps.hostname, listeners: deps.listeners, ...(deps.mtaStsPolicy ? { mtaStsPolicy: deps.mtaStsPolicy } : {}), ...(deps.tlsReportUri ? { tlsReportUri: deps.tlsReportUri } : {}), dkim: (keys?.keys ?? []).map((k) => [k.selector, dkimTxtRecord(k)]) };
  }

  return {
    listQueue: (limit?: number): Promise<QueuedMessage[]> => deps.queue.listQueue(limit),
    /** How many entries wait (those listQueue lists), counted in the store. */
    countQueue: (): Promise<number> => deps.queue.countQueue(),

    /**
     * One page of the queue, oldest first, filtered in the store (QueueStore.listQueuePage): by
     * status, by an open recipient's domain or address. `next` continues after this page, so a
     * queue of any length is read page by page, each costing only its own rows.
     */
    async queuePage(query: QueueListQuery = {}): Promise<QueuePage> {
      const text = (value: unknown, what: string): string | undefined => {
        if (value === undefined || value === null || value === "") return undefined;
        if (typeof value !== "string") throw new AdminError("invalid-argument", `${what} must be a string`);
        return value;
      };
      const limit = query.limit ?? 50;
      if (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_QUEUE_PAGE) throw new AdminError("invalid-argument", `limit must be from 1 to ${MAX_QUEUE_PAGE}`);
      const status = text(query.status, "status");
      if (status !== undefined && !(QUEUE_STATUSES as readonly string[]).includes(status)) throw new AdminError("invalid-argument", `status must be one of ${QUEUE_STATUSES.join(", ")}`);
      const domain = text(query.domain, "domain");
      const to = text(query.to, "to");
      const after = text(query.after, "after");
      const entries = await deps.queue.listQueuePage({
        limit: limit + 1,
        ...(after !== undefined ? { after: parseCursor(after) } : {}),
        ...(domain !== undefined ? { domain: normaliseDomain(domain) } : {}),
        ...(to !== undefined ? { to: normaliseAddress(to).address } : {}),
        ...(status === "held" ? { nextAttemptFrom: HOLD_UNTIL } : status !== undefined ? { state: status as "pending" | "deferred", nextAttemptBefore: HOLD_UNTIL } : {}),
      });
      const page = entries.slice(0, limit);
      return { entries: page, next: entries.length > limit ? cursorOf(page[page.length - 1]!) : null };
    },
    showQueued: requireEntry,

    /** Makes the entry due now. */
    async retryQueued(id: number): Promise<QueuedMessage> {
      const entry = await requireEntry(id);
      requireIdle(entry);
      return deps.queue.recordAttempt(id, [], clock());
    },

    /** Removes the entry without a DSN (the operator decided), failing what was still open. */
    async deleteQueued(id: number): Promise<void> {
      const entry = await requireEntry(id);
      requireIdle(entry);
      const open = entry.recipients.filter((r) => r.state === "pending" || r.state === "deferred");
      try {
        if (open.length > 0) await deps.queue.recordAttempt(id, open.map((r) => ({ address: r.address, state: "failed" as const, reply: "deleted from the queue by the administrator" })), clock());
        await deps.queue.complete(id);
      } catch (error) {
        if (isStoreError(error, "NONEXISTENT")) throw new AdminError("not-found", `no queued message ${id}`);
        throw error;
      }
    },

    /** Holds the entry: no delivery attempt until it is released (retry or release). */
    async holdQueued(id: number): Promise<QueuedMessage> {
      const entry = await requireEntry(id);
      requireIdle(entry);
      return deps.queue.recordAttempt(id, [], HOLD_UNTIL);
    },

    /** Ends a hold: the entry is due now. */
    async releaseQueued(id: number): Promise<QueuedMessage> {
      const entry = await requireEntry(id);
      requireIdle(entry);
      if (!isHeld(entry)) throw new AdminError("conflict", `queued message ${id} is not held`);
      return deps.queue.recordAttempt(id, [], clock());
    },

    /** Returns the entry to its sender now with a DSN (RFC 3464), failing every open recipient. */
    async bounceQueued(id: number, reason?: string): Promise<void> {
      if (deps.bounce === undefined) throw new AdminError("refused", "queue bounce needs the running server (it sends the DSN); start mailroom serve");
      const entry = await requireEntry(id);
      requireIdle(entry);
      const why = (reason ?? "").replace(/[\x00-\x1f\x7f]/g, " ").trim().slice(0, 200);
      await deps.bounce(entry, `returned to the sender by the postmaster${why ? `: ${why}` : ""}`);
    },

    /** Makes every waiting entry due now (held ones stay held); returns how many. */
    async flushQueue(): Promise<number> {
      let count = 0;
      for (const entry of await deps.queue.listQueue(100_000)) {
        if (!isOpen(entry) || isHeld(entry) || (entry.leasedUntil !== null && entry.leasedUntil > clock())) continue;
        await deps.queue.recordAttempt(entry.id, [], clock());
        count++;
      }
      return count;
    },

    /** Makes keys for a domain that has none (`domain add`); returns the selectors, or [] when present. */
    async ensureDkimKeys(domain: string): Promise<string[]> {
      const name = normaliseDomain(domain);
      if (await loadDkimKeys(deps.dkim.keyDir, name)) return [];
      return (await generateDkimKeys(deps.dkim.keyDir, name, deps.dkim.selector)).keys.map((k) => k.selector);
    },

    /** New keys under new selectors; the old ones stay on disk for DNS during the changeover. */
    async rotateDkim(domain: string): Promise<string[]> {
      const name = await requireLocalDomain(domain);
      const keys = await generateDkimKeys(deps.dkim.keyDir, name, deps.dkim.selector, { rotate: (await loadDkimKeys(deps.dkim.keyDir, name)) !== null, now: clock() });
      return keys.keys.map((k) => k.selector);
    },

    async dnsRecords(domain: string): Promise<string> {
      return renderDnsRecords(await recordInput(domain));
    },

    /** The same records as data, one row each (the admin pages show them with copy buttons). */
    async dnsRecordList(domain: string): Promise<DnsRecordRow[]> {
      return recommendedRecords(await recordInput(domain)).records.map((r) => ({
        kind: r.kind,
        owner: r.owner,
        type: r.type,
        value: r.value,
        zoneLine: `${r.owner} 3600 IN ${r.type} ${r.type === "TXT" ? txtStrings(r.value) : r.value}`,
      }));
    },

    /** `mailroom dns check`: each recommended record against the live DNS, one line each; `problems` counts what is not ok. */
    async dnsCheck(domain: string): Promise<{ lines: string[]; problems: number; checks: DnsCheckLine[] }> {
      const expected = recommendedRecords(await recordInput(domain));
      const checked = await checkDnsRecords(expected, deps.dnsLookup ?? createDnsLookup(deps.dnsServers ?? []));
      return { lines: formatDnsCheck(checked), problems: checked.filter((line) => line.status !== "ok").length, checks: checked };
    },
  };
}

export type OutboundOperations = ReturnType<typeof createOutboundOperations>;
