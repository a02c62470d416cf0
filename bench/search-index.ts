// SEARCH over the full-text index (issue 14): builds a mailbox of N small messages with realistic
// text through the store API (group-committed deliveries), then times `UID SEARCH TEXT "word"`,
// `UID SEARCH BODY "phrase"` and a 2-character BODY (the paged scan) over a real IMAP socket,
// reports the index's size against the mail's, and delivery throughput with the index against a
// baseline build without it (another checkout's dist, e.g. main's).
//   npx tsc -p tsconfig.json && node dist/bench/search-index.js [messages=100000] [--baseline /work/main/dist]
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import Database from "better-sqlite3";
import { startImapHarness } from "../test/harness/imap-harness.js";
import { RawImapClient } from "../test/harness/imap-raw-client.js";

const WORDS = (
  "meeting project budget report schedule review update customer invoice contract delivery team " +
  "quarter planning design release server backup network office holiday travel family weekend " +
  "dinner lunch question answer thanks please attached document draft final version change issue " +
  "problem solution idea proposal feedback status progress deadline tomorrow today morning evening"
).split(" ");
const NAMES = ["Alice Martin", "Bob Keller", "Chloé Dubois", "Dmitri Ivanov", "Eva Schmidt", "Fatima Haddad", "George Brown", "Hana Sato"];

/** Deterministic pseudo-random numbers, so two runs build the same mailbox. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function message(i: number, random: () => number): Buffer {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const sentence = (): string => Array.from({ length: 6 + Math.floor(random() * 10) }, () => pick(WORDS)).join(" ");
  const from = pick(NAMES);
  const lines = Array.from({ length: 4 + Math.floor(random() * 12) }, sentence);
  // 1 in 500 carries the searched word, 1 in 1000 the phrase: selective searches, as people type.
  if (i % 500 === 7) lines.splice(1, 0, "the zephyrology notes are here");
  if (i % 1000 === 3) lines.push("see you at the lighthouse cafe");
  const head = [
    `From: ${from} <${from.split(" ")[0]!.toLowerCase()}@example.net>`,
    "To: User <user@example.org>",
    `Subject: ${sentence().slice(0, 60)}`,
    `Date: Mon, 3 Mar 2025 10:${String(i % 60).padStart(2, "0")}:00 +0000`,
    `Message-ID: <${i}@bench.example.net>`,
    "Content-Type: text/plain; charset=utf-8",
  ];
  return Buffer.from(`${head.join("\r\n")}\r\n\r\n${lines.join("\r\n")}\r\n`);
}

type DeliverStore = { deliver(r: { source: Buffer; targets: { mailboxId: never }[] }): Promise<unknown> };

/** Delivers `count` messages (seeded) with 32 concurrent writers; returns messages per second and bytes. */
async function deliverAll(store: DeliverStore, mailboxId: unknown, count: number): Promise<{ perSecond: number; bytes: number }> {
  const random = rng(42);
  let next = 0;
  let bytes = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < count) {
        const source = message(next++, random);
        bytes += source.length;
        await store.deliver({ source, targets: [{ mailboxId: mailboxId as never }] });
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { perSecond: count / seconds, bytes };
}

async function baselineThroughput(dist: string, count: number): Promise<number> {
  const module = (await import(join(dist, "src/store/sqlite/sqlite-store.js"))) as { openSqliteStore(o: { dataDir: string }): Promise<never> };
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-bench-baseline-"));
  try {
    const store = (await module.openSqliteStore({ dataDir })) as unknown as DeliverStore & {
      addDomain(d: string): Promise<unknown>;
      createAccount(a: object): Promise<{ id: number }>;
      getMailbox(id: number, name: string): Promise<{ id: number }>;
      close(): Promise<void>;
    };
    await store.addDomain("example.org");
    const account = await store.createAccount({ address: "user@example.org", passwordHash: "x" });
    const inbox = await store.getMailbox(account.id, "INBOX");
    const result = await deliverAll(store, inbox.id, count);
    await store.close();
    return result.perSecond;
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function timed(client: RawImapClient, tag: string, command: string): Promise<{ ms: number; hits: number }> {
  const started = process.hrtime.bigint();
  // Not client.command(): its 5 s wait is too short for a search matching most of 100k messages.
  client.send(`${tag} ${command}\r\n`);
  await client.until((b) => new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`).test(b), 300_000);
  const reply = client.take();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (!new RegExp(`^${tag} OK`, "m").test(reply)) throw new Error(`${command}: ${reply.slice(-200)}`);
  const line = /^\* SEARCH(.*)$/m.exec(reply)?.[1] ?? "";
  return { ms, hits: line.trim() === "" ? 0 : line.trim().split(/\s+/).length };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const count = Number(args.find((a) => /^\d+$/.test(a)) ?? 100_000);
  const baselineAt = args.indexOf("--baseline");
  const throughputSample = Math.min(count, 10_000);
  if (baselineAt >= 0) {
    const baseline = await baselineThroughput(args[baselineAt + 1]!, throughputSample);
    console.log(`delivery without index (baseline ${args[baselineAt + 1]}): ${baseline.toFixed(0)} msg/s over ${throughputSample}`);
  }
  const harness = await startImapHarness({ limits: { imapIdle: 600_000 } });
  try {
    const store = harness.temp.store;
    const inbox = (await store.getMailbox(harness.accounts.alice.id, "INBOX"))!;
    const built = await deliverAll(store as unknown as DeliverStore, inbox.id, count);
    console.log(`delivery with index: ${built.perSecond.toFixed(0)} msg/s over ${count} (${(built.bytes / 1e6).toFixed(1)} MB of mail)`);
    const db = new Database(join(harness.temp.dataDir, "mailroom.sqlite"), { readonly: true });
    const pages = (table: string): number => (db.prepare("SELECT count(*) AS n FROM dbstat WHERE name LIKE ?").get(`${table}%`) as { n: number }).n;
    const pageSize = db.pragma("page_size", { simple: true }) as number;
    const indexBytes = pages("search_index") * pageSize;
    db.close();
    const file = (await stat(join(harness.temp.dataDir, "mailroom.sqlite"))).size;
    console.log(`index (search_index*): ${(indexBytes / 1e6).toFixed(1)} MB = ${(indexBytes / built.bytes).toFixed(2)}x the mail; database file ${(file / 1e6).toFixed(1)} MB`);
    const client = await RawImapClient.open(harness.ports.imap);
    await client.nextLine();
    await client.command("l", 'LOGIN alice@example.org "alice-pass"');
    await client.command("s", "SELECT INBOX");
    for (const [name, command] of [
      ["TEXT word", 'UID SEARCH TEXT "zephyrology"'],
      ["BODY phrase", 'UID SEARCH BODY "lighthouse cafe"'],
      ["TEXT common word", 'UID SEARCH TEXT "budget"'],
      ["BODY 2 chars (scan)", 'UID SEARCH BODY "zq"'],
      ["SUBJECT", 'UID SEARCH SUBJECT "zephyr"'],
    ] as const) {
      const runs: number[] = [];
      let hits = 0;
      for (let r = 0; r < 3; r++) ({ ms: runs[r], hits } = { ...(await timed(client, `t${r}`, command)) } as { ms: number; hits: number });
      runs.sort((a, b) => a - b);
      console.log(`${name.padEnd(22)} median ${runs[1]!.toFixed(1)} ms (${hits} hits)  ${command}`);
    }
    client.socket.destroy();
  } finally {
    await harness.stop();
  }
}

await main();
