// The store conformance suite against the PostgreSQL backend, for the test files that run it: one
// throwaway cluster per file (test/harness/postgres.ts), a database per test. Skipped, saying
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
    let template: string;
    let serial = 0;
    before(async () => {
      cluster = await startPostgres();
      // Each test gets its own database (NOTIFY channels, and so the cross-node change feed, are
      // per database: tests sharing one would hear each other), copied from a template migrated
      // once, which is several times faster than CREATE DATABASE plus the migrations per test.
      const url = await cluster.createDatabase("template");
      await (await openPostgresStore({ url, maxConnections: 2 })).close();
      template = new URL(url).pathname.slice(1);
    });
    after(async () => {
      await cluster?.stop();
    });

    runStoreContract("postgresql", async () => {
      const name = `${template}_${++serial}`;
      await cluster.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
      const url = cluster.url(name);
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
        get migrations() {
          return store;
        },
        get greylist() {
          return store;
        },
        get authState() {
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
