// The store conformance suite against the PostgreSQL backend, for the test files that run it: one
// throwaway cluster per file (test/harness/postgres.ts), emptied tables per test. Skipped, saying
// why, only where no PostgreSQL server binaries exist (CI installs them: .ci/run). The search
// groups, which store thousands of messages, run from their own file so each file stays within
// the runner's per-file time limit on a small machine.
import { after, before, describe } from "node:test";
import { postgresUnavailable, startPostgres, type PostgresCluster } from "../../../test/harness/postgres.js";
import { runStoreContract } from "../contract/store-contract.js";
import { openPostgresStore, type PostgresStore } from "./postgresql-store.js";

export const SEARCH_GROUPS = ["text search", "header search"];

export function runPostgresContract(groups: readonly string[]): void {
const unavailable = postgresUnavailable();

if (unavailable !== null) {
  describe("store contract: postgresql", { skip: unavailable }, () => undefined);
} else {
  let cluster: PostgresCluster;
  let url: string;
  let tables: string[];
  before(async () => {
    cluster = await startPostgres();
    // One database, migrated once; each test starts from emptied tables (TRUNCATE ... RESTART
    // IDENTITY: ids from 1 again), which takes milliseconds where CREATE DATABASE and the
    // migrations took over a second per test on a loaded machine.
    url = await cluster.createDatabase("contract");
    await (await openPostgresStore({ url, maxConnections: 2 })).close();
    const database = new URL(url).pathname.slice(1);
    tables = (await cluster.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'", [], database)).map((r) => r.tablename);
  });
  after(async () => {
    await cluster?.stop();
  });

  runStoreContract("postgresql", async () => {
    await cluster.query(`TRUNCATE ${tables.map((t) => `"${t}"`).join(", ")} RESTART IDENTITY CASCADE`, [], new URL(url).pathname.slice(1));
    // Few connections per store: the suite runs many tests, each with its own store.
    const open = () => openPostgresStore({ url, maxConnections: 4 });
    let store: PostgresStore = await open();
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
      get greylist() {
        return store;
      },
      async reopen() {
        await store.close();
        store = await open();
        return { mail: store, accounts: store, queue: store, sieve: store };
      },
      blobFileCount: () => store.blobs.count(),
      async collectGarbage() {
        await store.collectGarbage();
      },
      async cleanup() {
        await store.close();
      },
    };
  }, { groups });
}
}
