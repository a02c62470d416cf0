// The SQLite backend as the store conformance suite opens it: a real store in a temp directory
// per test. The suite runs from two test files (sqlite.contract*.test.ts) so that each stays well
// inside the per-file timeout on a busy 2-core machine.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONTRACT_GROUPS, runStoreContract } from "../contract/store-contract.js";
import { openSqliteStore, type SqliteStore } from "./sqlite-store.js";

async function countBlobFiles(blobRoot: string): Promise<number> {
  let count = 0;
  for (const first of await readdir(blobRoot)) {
    if (first === "tmp") continue;
    count += (await readdir(join(blobRoot, first))).length;
  }
  return count;
}

/** As the server runs it, but orphans need no age: the suite checks files right after each step. */
const COLLECTOR = { orphanMinAgeMs: 0 };
// blobFileCount drains the garbage queue (what the suite's "nothing left" means); collectGarbage
// also runs a full orphan pass.

/** Runs half of the suite's groups: the first (`part` 1) or the second (`part` 2). */
export function runSqliteContract(part: 1 | 2): void {
  const half = Math.ceil(CONTRACT_GROUPS.length / 2);
  const groups = part === 1 ? CONTRACT_GROUPS.slice(0, half) : CONTRACT_GROUPS.slice(half);
  runStoreContract(`sqlite (part ${part})`, openContractBackend, { groups });
}

async function openContractBackend() {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-contract-"));
  let store: SqliteStore = await openSqliteStore({ dataDir, collector: COLLECTOR });
  store.startCollector();
  return {
    get mail() {
      return store;
    },
    get accounts() {
      return store;
    },
    get queue() {
      return store;
    },
    get sieve() {
      return store;
    },
    get spam() {
      return store;
    },
    get migrations() {
      return store;
    },
    get greylist() {
      return store;
    },
    get tlsReports() {
      return store;
    },
    get tlsRptSessions() {
      return store;
    },
    get webAuth() {
      return store;
    },
    get adminHistory() {
      return store;
    },
    get authState() {
      return store;
    },
    async reopen() {
      await store.close();
      store = await openSqliteStore({ dataDir, collector: COLLECTOR });
      store.startCollector();
      return { mail: store, accounts: store, queue: store };
    },
    async blobFileCount() {
      await store.collector.runUntilIdle({ scan: false });
      return countBlobFiles(join(dataDir, "blobs"));
    },
    async collectGarbage() {
      await store.collector.runUntilIdle();
    },
    async cleanup() {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
