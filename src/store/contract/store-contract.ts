// The store conformance suite: one behaviour specification, written against MailStore,
// AccountStore and QueueStore only, run against every backend (SQLite now, PostgreSQL later).
// Each test opens its own fresh backend through `open`, so tests are independent and may run in
// any order.
import { describe } from "node:test";
import { accountContract } from "./accounts.contract.js";
import { batchReadContract } from "./batch-reads.contract.js";
import { changeContract } from "./changes.contract.js";
import type { OpenBackend } from "./fixture.js";
import { headerSearchContract } from "./header-search.contract.js";
import { imapItemsContract } from "./imap-items.contract.js";
import { mailboxContract } from "./mailboxes.contract.js";
import { queueContract } from "./queue.contract.js";
import { recentContract } from "./recent.contract.js";
import { messageContract, stagingContract } from "./messages.contract.js";
import { sortFactsContract } from "./sort-facts.contract.js";
import { textSearchContract } from "./text-search.contract.js";
import { updateContract } from "./updates.contract.js";
import { sieveContract } from "./sieve.contract.js";
import { spamTokenContract } from "./spam.contract.js";
import { greylistContract } from "./greylist.contract.js";
import { tlsReportContract, tlsRptSessionContract } from "./tls-reports.contract.js";
import { webAuthContract } from "./web-auth.contract.js";
import { adminHistoryContract } from "./admin-history.contract.js";
import { keptUidContract, migrationStateContract } from "./kept-uids.contract.js";
import { quotaContract } from "./quota.contract.js";
import { objectIdContract } from "./object-ids.contract.js";
import { metadataContract } from "./metadata.contract.js";
import { authStateContract } from "./auth-state.contract.js";
import { aclContract } from "./acl.contract.js";

export type { ContractBackend, OpenBackend, StoreHandles } from "./fixture.js";

const GROUPS: [name: string, run: (open: OpenBackend) => void][] = [
  ["accounts", accountContract],
  ["mailboxes", mailboxContract],
  ["messages", messageContract],
  ["staging", stagingContract],
  ["batch reads", batchReadContract],
  ["updates", updateContract],
  ["changes", changeContract],
  ["queue", queueContract],
  ["recent and multiappend", recentContract],
  ["text search", textSearchContract],
  ["header search", headerSearchContract],
  ["encoded FETCH items", imapItemsContract],
  ["sort facts", sortFactsContract],
  ["sieve scripts", sieveContract],
  ["spam classifier statistics", spamTokenContract],
  ["greylisting", greylistContract],
  ["tls reports", tlsReportContract],
  ["tls-rpt sessions", tlsRptSessionContract],
  ["web auth", webAuthContract],
  ["admin history", adminHistoryContract],
  ["kept UIDs", keptUidContract],
  ["migration state", migrationStateContract],
  ["quota", quotaContract],
  ["object ids, save date, preview and replace", objectIdContract],
  ["metadata", metadataContract],
  ["auth state", authStateContract],
  ["acl", aclContract],
];

/** The groups of the suite by name, so a slow backend can run them from several test files. */
export const CONTRACT_GROUPS: readonly string[] = GROUPS.map(([name]) => name);

/** Runs every group, or only `options.groups` (a backend whose suite outgrows one file splits it). */
export function runStoreContract(name: string, open: OpenBackend, options: { groups?: readonly string[] } = {}): void {
  describe(`store contract: ${name}`, () => {
    for (const [group, run] of GROUPS) if (!options.groups || options.groups.includes(group)) describe(group, () => run(open));
  });
}
