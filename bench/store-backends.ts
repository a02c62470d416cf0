// SQLite vs PostgreSQL on one node, through the same MailStore interface, with full durability on
// both (SQLite: blob fsync + WAL synchronous=FULL; PostgreSQL: a local cluster with fsync on and
// synchronous_commit on, started by test/harness/postgres.ts in a temp dir):
//   - deliveries per second of unique 5 KB messages: 1 writer, 10 writers into one mailbox, and
//     10 writers into 10 mailboxes (PostgreSQL orders one mailbox's writers by its row lock, held
//     through each COMMIT's WAL flush, so one mailbox takes one commit at a time);
//   - FETCH-like reads: getMessages + readMessages in batches of 50 over the mailbox;
//   - SEARCH BODY of a 3+ character string over the mailbox (trigram index on both).
// Median of 3 runs, each on a fresh store.
//   npm run build && node dist/bench/store-backends.js [messages=500]
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MailStore, AccountStore, MailboxId, Uid } from "../src/store/index.js";
import { openPostgresStore } from "../src/store/postgresql/postgresql-store.js";
import { openSqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { startPostgres, type PostgresCluster } from "../test/harness/postgres.js";

const RUNS = 3;
const MESSAGE_BYTES = 5 * 1024;

function message(serial: number): Buffer {
  const header = `From: bench@example.net\r\nTo: user@bench.test\r\nSubject: bench ${serial}\r\nMessage-ID: <${serial}.${process.pid}@bench>\r\n\r\n`;
  const line = `The quick brown fox ${serial % 7 === 0 ? "xylophone" : "jumps"} over the lazy dog, again and again.\r\n`;
  const body = line.repeat(Math.ceil((MESSAGE_BYTES - header.length) / line.length));
  return Buffer.from((header + body).slice(0, MESSAGE_BYTES));
}

interface Opened {
  store: MailStore & AccountStore;
  close(): Promise<void>;
}

type Backend = { name: string; open(): Promise<Opened> };

interface Figures {
  deliver1: number;
  deliver10: number;
  /** 10 writers, each to its own account's INBOX: no mailbox row lock shared. */
  deliver10Spread: number;
  readPerSecond: number;
  searchMs: number;
}

async function measure(backend: Backend, total: number): Promise<Figures> {
  const { store, close } = await backend.open();
  try {
    await store.addDomain("bench.test");
    const account = await store.createAccount({ address: "user@bench.test", passwordHash: "x" });
    const inbox = (await store.getMailbox(account.id, "INBOX"))!;
    const others: MailboxId[] = [];
    for (let i = 0; i < 10; i++) others.push((await store.getMailbox((await store.createAccount({ address: `user${i}@bench.test`, passwordHash: "x" })).id, "INBOX"))!.id);
    const messages = Array.from({ length: total * 3 }, (_, i) => message(i));
    let next = 0;
    const rate = async (count: number, writers: number, spread: boolean): Promise<number> => {
      const end = next + count;
      const started = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          while (next < end) await store.deliver({ source: messages[next++]!, targets: [{ mailboxId: spread ? others[w]! : inbox.id }] });
        }),
      );
      return count / (Number(process.hrtime.bigint() - started) / 1e9);
    };
    const deliver1 = await rate(total, 1, false);
    const deliver10 = await rate(total, 10, false);
    const deliver10Spread = await rate(total, 10, true);
    const uids = (await store.listMessages(inbox.id)).map((m) => m.uid);
    const started = process.hrtime.bigint();
    for (let i = 0; i < uids.length; i += 50) {
      const batch = uids.slice(i, i + 50) as Uid[];
      await store.getMessages(inbox.id, batch);
      const bytes = await store.readMessages(inbox.id, batch, { maxSize: 1 << 20 });
      if (bytes.size !== batch.length) throw new Error("short read");
    }
    const readPerSecond = uids.length / (Number(process.hrtime.bigint() - started) / 1e9);
    const searchStarted = process.hrtime.bigint();
    const found = await store.findTextMatches(inbox.id, "xylophone", "body");
    const searchMs = Number(process.hrtime.bigint() - searchStarted) / 1e6;
    const expected = Array.from({ length: total * 2 }, (_, i) => i).filter((i) => i % 7 === 0).length;
    if (found.matches.length !== expected) throw new Error(`search found ${found.matches.length}, expected ${expected}`);
    return { deliver1, deliver10, deliver10Spread, readPerSecond, searchMs };
  } finally {
    await close();
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 500);
  let cluster: PostgresCluster | null = null;
  const sqlite: Backend = {
    name: "sqlite",
    async open() {
      const dataDir = await mkdtemp(join(tmpdir(), "mailroom-bench-"));
      const store = await openSqliteStore({ dataDir });
      return { store, close: async () => (await store.close(), await rm(dataDir, { recursive: true, force: true })) };
    },
  };
  const postgres: Backend = {
    name: "postgresql",
    async open() {
      cluster ??= await startPostgres({ durable: true, prefix: "mailroom-bench-pg-" });
      const store = await openPostgresStore({ url: await cluster.createDatabase("bench"), maxConnections: 20 });
      return { store, close: () => store.close() };
    },
  };
  try {
    console.log(`${total} x 3 unique ${MESSAGE_BYTES / 1024} KB messages per run, median of ${RUNS} runs, durable commits on both`);
    console.log("backend     | deliver/s 1 writer | deliver/s 10 writers, 1 mailbox | deliver/s 10 writers, 10 mailboxes | read msg/s (batches of 50) | SEARCH BODY ms");
    for (const backend of [sqlite, postgres]) {
      const runs: Figures[] = [];
      for (let i = 0; i < RUNS; i++) runs.push(await measure(backend, total));
      const pick = (key: keyof Figures) => median(runs.map((r) => r[key]));
      console.log(
        `${backend.name.padEnd(11)} | ${pick("deliver1").toFixed(0).padStart(18)} | ${pick("deliver10").toFixed(0).padStart(31)} | ${pick("deliver10Spread").toFixed(0).padStart(34)} | ${pick("readPerSecond").toFixed(0).padStart(26)} | ${pick("searchMs").toFixed(1).padStart(14)}`,
      );
    }
  } finally {
    await (cluster as PostgresCluster | null)?.stop();
  }
}

await main();
