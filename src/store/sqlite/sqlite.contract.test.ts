// Runs the store conformance suite against the SQLite backend on real temp directories.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runStoreContract } from "../contract/store-contract.js";
import { openSqliteStore, type SqliteStore } from "./sqlite-store.js";

async function countBlobFiles(blobRoot: string): Promise<number> {
  let count = 0;
  for (const first of await readdir(blobRoot)) {
    if (first === "tmp") continue;
    count += (await readdir(join(blobRoot, first))).length;
  }
  return count;
}

runStoreContract("sqlite", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-contract-"));
  let store: SqliteStore = await openSqliteStore({ dataDir });
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
    async reopen() {
      await store.close();
      store = await openSqliteStore({ dataDir });
      return { mail: store, accounts: store, queue: store };
    },
    blobFileCount: () => countBlobFiles(join(dataDir, "blobs")),
    async collectGarbage() {
      await store.collectGarbage();
    },
    async cleanup() {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});
