// A real SQLite store in a fresh temporary directory, removed by cleanup(). Tests that need
// accounts use cheap argon2 parameters so hashing does not dominate their run time.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashPassword } from "../../src/auth/index.js";
import { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from "../../src/store/sqlite/sqlite-store.js";

export const CHEAP_HASH_PARAMS = { memoryCost: 1024, timeCost: 1, parallelism: 1 } as const;

export interface TempStore {
  store: SqliteStore;
  dataDir: string;
  cleanup(): Promise<void>;
}

/** `options` adds to the defaults, e.g. a blob file layer that fails writes (store/blobs/simulated-disk.ts). */
export async function openTempStore(prefix = "mailroom-test-", options: Omit<SqliteStoreOptions, "dataDir"> = {}): Promise<TempStore> {
  const dataDir = await mkdtemp(join(tmpdir(), prefix));
  const store = await openSqliteStore({ ...options, dataDir });
  return {
    store,
    dataDir,
    async cleanup() {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export function cheapHash(password: string): Promise<string> {
  return hashPassword(password, { params: CHEAP_HASH_PARAMS });
}
