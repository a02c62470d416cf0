// Issue #13 (io): database size against the mail it holds, for a small-message corpus (2,000
// messages of 1-6 KB delivered through the store API). Prints mail octets, the SQLite file size
// after a checkpoint, and the ratio (target: at most 1.3x). Median of 3 stores. Then where the
// database's bytes are, per table and index (SQLite's dbstat), with the full-text search tables
// (search_*) summed apart: they are the search index, the rest is the mailbox metadata.
//   npx tsc -p tsconfig.json && node dist/bench/io-disk.js
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { openSqliteStore } from "../src/store/sqlite/sqlite-store.js";

const words = ["mail", "server", "quarterly", "report", "meeting", "invoice", "agenda", "travel", "budget", "review"];

type Usage = { name: string; bytes: number }[];

/** Bytes of pages per table or index (dbstat), largest first, and the pages on the free list. */
function pageUsage(path: string): { usage: Usage; free: number } {
  const db = new Database(path, { readonly: true });
  try {
    const usage = db.prepare("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC").all() as Usage;
    const free = (db.pragma("freelist_count", { simple: true }) as number) * (db.pragma("page_size", { simple: true }) as number);
    return { usage, free };
  } finally {
    db.close();
  }
}

async function once(run: number): Promise<{ mail: number; db: number; usage: Usage; free: number }> {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-io-disk-"));
  try {
    const store = await openSqliteStore({ dataDir });
    await store.addDomain("example.org");
    const account = await store.createAccount({ address: "a@example.org", passwordHash: "x" });
    const inbox = (await store.getMailbox(account.id, "INBOX"))!;
    let mail = 0;
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 2000; i++) {
      const lines = 10 + ((i * 7919 + run) % 70);
      let body = "";
      for (let l = 0; l < lines; l++) body += `${words[(i + l) % 10]} ${words[(i * l) % 10]} ${i}-${l} and some more text for line ${l}\r\n`;
      const bytes = Buffer.from(`From: b${i}@example.net\r\nTo: a@example.org\r\nSubject: ${words[i % 10]} ${i}\r\nMessage-ID: <${i}.${run}@io>\r\n\r\n${body}`);
      mail += bytes.length;
      pending.push(store.deliver({ source: bytes, targets: [{ mailboxId: inbox.id }] }));
      if (pending.length >= 50) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    await store.close();
    const path = join(dataDir, "mailroom.sqlite");
    return { mail, db: (await stat(path)).size, ...pageUsage(path) };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

const results = [];
for (let r = 0; r < 3; r++) results.push(await once(r));
const ratios = results.map((r) => r.db / r.mail).sort((a, b) => a - b);
const mid = results.find((r) => r.db / r.mail === ratios[1])!;
console.log(`small corpus: mail ${(mid.mail / 1048576).toFixed(2)} MiB, database ${(mid.db / 1048576).toFixed(2)} MiB, ratio median ${ratios[1]!.toFixed(2)}x (runs ${ratios.map((x) => x.toFixed(2)).join(", ")})`);
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(2)} MiB`;
const search = mid.usage.filter((u) => u.name.startsWith("search_")).reduce((n, u) => n + u.bytes, 0);
console.log(`  search index (search_* tables): ${mib(search)} = ${(search / mid.mail).toFixed(2)}x the mail; the rest: ${mib(mid.db - search)} = ${((mid.db - search) / mid.mail).toFixed(2)}x; free pages ${mib(mid.free)}`);
for (const { name, bytes } of mid.usage.slice(0, 12)) console.log(`  ${name.padEnd(40)} ${mib(bytes)}`);
