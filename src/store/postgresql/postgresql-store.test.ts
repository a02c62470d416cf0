// Runs the store conformance suite against the PostgreSQL backend: one throwaway cluster for the
// file (test/harness/postgres.ts), a fresh database per test. Skipped, saying why, only where no
// PostgreSQL server binaries exist (CI installs them: .ci/run).
import { after, before, describe } from "node:test";
import { postgresUnavailable, startPostgres, type PostgresCluster } from "../../../test/harness/postgres.js";
import { runStoreContract } from "../contract/store-contract.js";
import { openPostgresStore, type PostgresStore } from "./postgresql-store.js";

const unavailable = postgresUnavailable();

if (unavailable !== null) {
  describe("store contract: postgresql", { skip: unavailable }, () => undefined);
} else {
  let cluster: PostgresCluster;
  before(async () => {
    cluster = await startPostgres();
  });
  after(async () => {
    await cluster?.stop();
  });

  runStoreContract("postgresql", async () => {
    const url = await cluster.createDatabase("contract");
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
  });
}
