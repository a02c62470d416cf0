// Issue 21 (backup): how fast `mailroom backup`, `backup verify` and `restore` go on a store of a
// few thousand messages, and what they cost the process that serves: the event loop's longest
// stall during the online backup (it runs inside the server) and the resident memory it adds
// (bounded: nothing is held per message). Messages of 2-60 KB of text plus a few of 1 MB are
// delivered through the store API; then a full backup, an incremental one after 5% more mail,
// verify, and restore into an empty dir, each timed. Rates count the database and message bytes.
//   npx tsc -p tsconfig.json && node dist/bench/backup.js [messages]
import { mkdtemp, rm, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { openSqliteStore, type SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { readBackup } from "../src/store/backup/restore.js";
import type { MailboxId } from "../src/store/types.js";

const MESSAGES = Number(process.argv[2] ?? 5000);
const words = ["mail", "server", "quarterly", "report", "meeting", "invoice", "agenda", "travel", "budget", "review", "attachment", "zürich"];

function message(i: number): Buffer {
  const big = i % 500 === 7;
  const lines = big ? 12_000 : 20 + ((i * 7919) % 700);
  const parts: string[] = [];
  for (let l = 0; l < lines; l++) parts.push(`${words[(i + l) % words.length]} ${words[(i * l + 3) % words.length]} ${i}-${l} ${(i * 31 + l * 17) % 100003}\r\n`);
  return Buffer.from(`From: b${i}@example.net\r\nTo: a@example.org\r\nSubject: ${words[i % words.length]} ${i}\r\nMessage-ID: <${i}@bench>\r\n\r\n${parts.join("")}`);
}

async function deliver(store: SqliteStore, inbox: MailboxId, from: number, to: number): Promise<number> {
  let bytes = 0;
  const pending: Promise<unknown>[] = [];
  for (let i = from; i < to; i++) {
    const m = message(i);
    bytes += m.length;
    pending.push(store.deliver({ source: m, targets: [{ mailboxId: inbox }] }));
    if (pending.length >= 50) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  return bytes;
}

const mibs = (bytes: number, ms: number): string => `${(bytes / 1048576 / (ms / 1000)).toFixed(1)} MiB/s`;

const root = await mkdtemp(join(tmpdir(), "mailroom-bench-backup-"));
try {
  const store = await openSqliteStore({ dataDir: join(root, "data") });
  await store.addDomain("example.org");
  const account = await store.createAccount({ address: "a@example.org", passwordHash: "x" });
  const inbox = (await store.getMailbox(account.id, "INBOX"))!.id;
  const mail = await deliver(store, inbox, 0, MESSAGES);
  console.log(`store: ${MESSAGES} messages, ${(mail / 1048576).toFixed(1)} MiB of mail`);

  const loop = monitorEventLoopDelay({ resolution: 1 });
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
  loop.enable();
  const full = await store.writeBackup({ file: join(root, "full.tgz"), incrementalFrom: null, files: [], serverVersion: "bench" });
  loop.disable();
  clearInterval(sampler);
  const data = full.databaseBytes + full.storedBytes;
  console.log(
    `backup (full): ${(data / 1048576).toFixed(1)} MiB (database ${(full.databaseBytes / 1048576).toFixed(1)} MiB) in ${full.durationMs} ms = ${mibs(data, full.durationMs)}; archive ${(full.archiveBytes / 1048576).toFixed(1)} MiB (${((100 * full.archiveBytes) / data).toFixed(0)}%); event loop longest stall ${(loop.max / 1e6).toFixed(1)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms; RSS +${((rssPeak - rssBefore) / 1048576).toFixed(0)} MiB`,
  );

  await deliver(store, inbox, MESSAGES, MESSAGES + Math.ceil(MESSAGES / 20));
  const incremental = await store.writeBackup({ file: join(root, "incr.tgz"), incrementalFrom: join(root, "full.tgz"), files: [], serverVersion: "bench" });
  console.log(`backup (incremental, +5%): ${incremental.storedFiles} of ${incremental.messageFiles} files archived in ${incremental.durationMs} ms; archive ${(incremental.archiveBytes / 1048576).toFixed(1)} MiB`);
  await store.close();

  const scratchDir = join(root, "scratch");
  await mkdir(scratchDir);
  const verified = await readBackup({ file: join(root, "full.tgz"), bases: [], target: null, scratchDir });
  console.log(`verify (full): ${mibs(verified.databaseBytes + verified.messageBytes, verified.durationMs)} (${verified.durationMs} ms)`);
  await mkdir(join(root, "restored"));
  const restored = await readBackup({ file: join(root, "full.tgz"), bases: [], target: { dataDir: join(root, "restored"), fileDirs: {} }, scratchDir });
  console.log(`restore (full): ${mibs(restored.databaseBytes + restored.messageBytes, restored.durationMs)} (${restored.durationMs} ms, files made durable before the database is put in place)`);
  await mkdir(join(root, "restored-incr"));
  const chain = await readBackup({ file: join(root, "incr.tgz"), bases: [], target: { dataDir: join(root, "restored-incr"), fileDirs: {} }, scratchDir });
  console.log(`restore (incremental chain of 2): ${mibs(chain.databaseBytes + chain.messageBytes, chain.durationMs)} (${chain.durationMs} ms)`);
} finally {
  await rm(root, { recursive: true, force: true });
}
