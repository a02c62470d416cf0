// A throwaway SQLite store for tests that need real files on disk: a temp data dir with one
// domain and one account, removed afterwards whatever the test does.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteStore, type SqliteStore } from "./sqlite-store.js";

export async function withScratchStore(run: (store: SqliteStore, dataDir: string, inbox: number) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-scratch-"));
  const store = await openSqliteStore({ dataDir });
  try {
    await store.addDomain("example.test");
    const account = await store.createAccount({ address: "a@example.test", passwordHash: "x" });
    const inbox = (await store.getMailbox(account.id, "INBOX"))!.id;
    await run(store, dataDir, inbox);
  } finally {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Where a blob's message file lives: blobs/<first two characters>/<id> (see blobs/blob-directory.ts). */
export const blobFileOf = (dataDir: string, id: string): string => join(dataDir, "blobs", id.slice(0, 2), id);
