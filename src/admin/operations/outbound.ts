// Administration of outbound mail: the queue (`mailroom queue list|show|retry|delete|flush`),
// DKIM keys (`mailroom dkim rotate`, and keys for `domain add`) and the DNS records to publish
// (`mailroom dns`). Retry and flush only move the next attempt to now: the server's workers do
// the delivery, so an entry is never attempted by two processes at once.
import { dkimTxtRecord, generateDkimKeys, loadDkimKeys, type DkimKeyLocation } from "../../mail-auth/index.js";
import type { AccountStore, QueuedMessage, QueueStore } from "../../store/index.js";
import { isStoreError } from "../../store/index.js";
import type { ListenerConfig } from "../../config/index.js";
import { checkDnsRecords, createDnsLookup, formatDnsCheck, type DnsLookup } from "./dns-check.js";
import { recommendedRecords, renderDnsRecords } from "./dns-records.js";
import { AdminError, normaliseDomain } from "./validation.js";

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
  /** outbound.dns_servers, for `mailroom dns check` (empty: the system's resolvers). */
  dnsServers?: readonly string[];
  /** Replaces the live DNS in tests. */
  dnsLookup?: DnsLookup;
  clock?: () => Date;
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

  return {
    listQueue: (limit?: number): Promise<QueuedMessage[]> => deps.queue.listQueue(limit),
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

    /** Makes every waiting entry due now; returns how many. */
    async flushQueue(): Promise<number> {
      let count = 0;
      for (const entry of await deps.queue.listQueue(100_000)) {
        if (!isOpen(entry) || (entry.leasedUntil !== null && entry.leasedUntil > clock())) continue;
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
      const name = await requireLocalDomain(domain);
      const keys = await loadDkimKeys(deps.dkim.keyDir, name);
      return renderDnsRecords({ domain: name, hostname: deps.hostname, listeners: deps.listeners, ...(deps.mtaStsPolicy ? { mtaStsPolicy: deps.mtaStsPolicy } : {}), ...(deps.tlsReportUri ? { tlsReportUri: deps.tlsReportUri } : {}), dkim: (keys?.keys ?? []).map((k) => [k.selector, dkimTxtRecord(k)]) });
    },

    /** `mailroom dns check`: each recommended record against the live DNS, one line each; `problems` counts what is not ok. */
    async dnsCheck(domain: string): Promise<{ lines: string[]; problems: number }> {
      const name = await requireLocalDomain(domain);
      const keys = await loadDkimKeys(deps.dkim.keyDir, name);
      const expected = recommendedRecords({ domain: name, hostname: deps.hostname, listeners: deps.listeners, ...(deps.mtaStsPolicy ? { mtaStsPolicy: deps.mtaStsPolicy } : {}), ...(deps.tlsReportUri ? { tlsReportUri: deps.tlsReportUri } : {}), dkim: (keys?.keys ?? []).map((k) => [k.selector, dkimTxtRecord(k)]) });
      const checked = await checkDnsRecords(expected, deps.dnsLookup ?? createDnsLookup(deps.dnsServers ?? []));
      return { lines: formatDnsCheck(checked), problems: checked.filter((line) => line.status !== "ok").length };
    },
  };
}

export type OutboundOperations = ReturnType<typeof createOutboundOperations>;
