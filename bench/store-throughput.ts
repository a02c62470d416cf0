// Store delivery throughput with full durability (blob fsync + directory fsync + WAL fsync with
// synchronous=FULL): N unique 5 KB messages, 1 and 10 concurrent writers, group commit on and
// off, 3 runs each on a fresh temp store; prints the median deliveries per second.
//
// It first measures what one durable step costs on this machine (5 KB file write + fsync,
// directory fsync after a rename, one SQLite COMMIT with synchronous=FULL), because that is what
// bounds the gain of group commit: grouping only saves the WAL fsync, which is one of three.
//   npm run build && node dist/bench/store-throughput.js [messages=400]
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, open, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { openSqliteStore } from "../src/store/sqlite/sqlite-store.js";

const RUNS = 3;
const MESSAGE_BYTES = 5 * 1024;

function message(serial: number): Buffer {
  const header = `From: bench@example.net\r\nTo: user@bench.test\r\nSubject: bench ${serial}\r\nMessage-ID: <${serial}.${process.pid}@bench>\r\n\r\n`;
  const line = "The quick brown fox jumps over the lazy dog, again and again and again.\r\n";
  const body = line.repeat(Math.ceil((MESSAGE_BYTES - header.length) / line.length));
  return Buffer.from((header + body).slice(0, MESSAGE_BYTES));
}

/** One run: a fresh store, `total` deliveries spread over `writers` concurrent loops. */
async function deliveriesPerSecond(total: number, writers: number, groupCommit: boolean): Promise<number> {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-bench-"));
  try {
    const store = await openSqliteStore({ dataDir, groupCommit });
    await store.addDomain("bench.test");
    const account = await store.createAccount({ address: "user@bench.test", passwordHash: "x" });
    const inbox = (await store.getMailbox(account.id, "INBOX"))!;
    const messages = Array.from({ length: total }, (_, i) => message(i));
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (next < total) await store.deliver({ source: messages[next++]!, targets: [{ mailboxId: inbox.id }] });
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await store.close();
    return total / seconds;
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

const elapsedMs = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e6;

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Median cost in ms of each durable step of a delivery, measured alone, `samples` times. */
async function durabilityCosts(samples = 200): Promise<{ fileWriteSync: number; directorySync: number; walCommit: number }> {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-fsync-"));
  try {
    await mkdir(join(dir, "tmp"));
    await mkdir(join(dir, "ab"));
    const body = message(0);
    const fileWriteSync: number[] = [];
    const directorySync: number[] = [];
    for (let i = 0; i < samples; i++) {
      const temp = join(dir, "tmp", randomUUID());
      let started = process.hrtime.bigint();
      const handle = await open(temp, "wx");
      await handle.write(body);
      await handle.sync();
      await handle.close();
      fileWriteSync.push(elapsedMs(started));
      await rename(temp, join(dir, "ab", randomUUID()));
      started = process.hrtime.bigint();
      await fsyncPath(join(dir, "ab"));
      directorySync.push(elapsedMs(started));
    }
    const db = new Database(join(dir, "wal.sqlite"));
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
    const insert = db.prepare("INSERT INTO t (v) VALUES (?)");
    const walCommit: number[] = [];
    for (let i = 0; i < samples; i++) {
      const started = process.hrtime.bigint();
      insert.run(Buffer.alloc(200));
      walCommit.push(elapsedMs(started));
    }
    db.close();
    return { fileWriteSync: median(fileWriteSync), directorySync: median(directorySync), walCommit: median(walCommit) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 400);
  const costs = await durabilityCosts();
  console.log("durable steps on this machine (median ms):");
  console.log(`  5 KB blob temp write + fsync      ${costs.fileWriteSync.toFixed(3)}`);
  console.log(`  blob directory fsync after rename ${costs.directorySync.toFixed(3)}`);
  console.log(`  SQLite COMMIT (WAL fsync, FULL)   ${costs.walCommit.toFixed(3)}  <- the only step group commit saves`);
  console.log("");
  const rows: { writers: number; groupCommit: boolean; median: number; runs: number[] }[] = [];
  for (const writers of [1, 10]) {
    for (const groupCommit of [false, true]) {
      const runs: number[] = [];
      for (let i = 0; i < RUNS; i++) runs.push(await deliveriesPerSecond(total, writers, groupCommit));
      rows.push({ writers, groupCommit, median: median(runs), runs });
    }
  }
  console.log(`store throughput: ${total} deliveries of ${MESSAGE_BYTES} B per run, median of ${RUNS} runs, full durability`);
  console.log("writers | group commit | deliveries/s (median) | runs");
  console.log("------- | ------------ | --------------------- | ----");
  for (const row of rows) {
    console.log(`${String(row.writers).padStart(7)} | ${(row.groupCommit ? "on" : "off").padEnd(12)} | ${row.median.toFixed(0).padStart(21)} | ${row.runs.map((r) => r.toFixed(0)).join(", ")}`);
  }
}

await main();
