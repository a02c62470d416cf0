// Issue #13 (io): database size against the mail it holds, for a small-message corpus (2,000
// messages of 1-6 KB delivered through the store API). Prints mail octets, the SQLite file size
// after a checkpoint, and the ratio (target: at most 1.3x). Median of 3 stores.
//   npx tsc -p tsconfig.json && node dist/bench/io-disk.js
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteStore } from "../src/store/sqlite/sqlite-store.js";

const words = ["mail", "server", "quarterly", "report", "meeting", "invoice", "agenda", "travel", "budget", "review"];

async function once(run: number): Promise<{ mail: number; db: number }> {
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
    return { mail, db: (await stat(join(dataDir, "mailroom.sqlite"))).size };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

const results = [];
for (let r = 0; r < 3; r++) results.push(await once(r));
const ratios = results.map((r) => r.db / r.mail).sort((a, b) => a - b);
const mid = results.find((r) => r.db / r.mail === ratios[1])!;
console.log(`small corpus: mail ${(mid.mail / 1048576).toFixed(2)} MiB, database ${(mid.db / 1048576).toFixed(2)} MiB, ratio median ${ratios[1]!.toFixed(2)}x (runs ${ratios.map((x) => x.toFixed(2)).join(", ")})`);
