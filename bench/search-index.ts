// SEARCH over the full-text index (issue 14), side by side with Dovecot. Three parts:
//  1. Delivery throughput with the index against without it: the same store code, once as it is
//     and once with the FTS5 table (positional trigrams, schema.ts version 27) swapped for a plain
//     table holding the same text (so only the tokenizing and index writes are left out), each
//     delivering the same seeded messages with 32 concurrent writers and the normal fsyncs; runs
//     alternate, medians compared.
//  2. A mailbox of N small messages with realistic text, built through the store API without
//     fsyncs (untimed, as bench/lib/prefill.ts), served over a real IMAP socket: the index's size
//     against the mail's, and the median of --runs timings of each search: a rare and a common
//     word, a rare and a common piece inside words, a rare and a common BODY phrase, a 2-character
//     BODY (the paged scan), FUZZY with a typo and RELEVANCY, SUBJECT, ESEARCH IN (RFC 7377).
//     Then the CPU of the store's answer and of the whole search for the TEXT/BODY ones, in-process.
//  3. (--dovecot) The same messages as a Maildir under Dovecot (bench/servers/dovecot.ts, no FTS
//     plugin, as Debian ships it), the same TEXT/BODY/SUBJECT commands over IMAP after one
//     untimed SELECT and SEARCH that build its index and cache, and the size of its index files.
//   npx tsc -p tsconfig.json && node dist/bench/search-index.js [messages=100000] [--runs 3] [--throughput 2000] [--dovecot]
import { chown, mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import Database from "better-sqlite3";
import { nodeFileLayer, type FileLayer } from "../src/store/blobs/durable-fs.js";
import { openSqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { startImapHarness } from "../test/harness/imap-harness.js";
import { RawImapClient } from "../test/harness/imap-raw-client.js";
import { searchMailbox } from "../src/imap/search/search-mailbox.js";
import type { MailboxId, MailStore, Uid } from "../src/store/index.js";
import type { TextPart } from "../src/store/sqlite/messages.js";
import { startDovecot } from "./servers/dovecot.js";
import { BENCH_DOMAIN, BENCH_PASSWORD } from "./servers/target.js";

const WORDS = (
  "the and of to meeting project budget report schedule review update customer invoice contract delivery team " +
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

/**
 * Delivers `count` messages (seeded) with 32 concurrent writers; returns messages per second, bytes,
 * and the process's CPU milliseconds per message (steadier than the rate on a shared machine).
 */
async function deliverAll(store: DeliverStore, mailboxId: unknown, count: number): Promise<{ perSecond: number; bytes: number; cpuMsPerMessage: number }> {
  const random = rng(42);
  let next = 0;
  let bytes = 0;
  const cpu = process.cpuUsage();
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
  const used = process.cpuUsage(cpu);
  return { perSecond: count / seconds, bytes, cpuMsPerMessage: (used.user + used.system) / 1000 / count };
}

/** Messages per second into a fresh store, with the full-text index or without it (see the top). */
async function throughput(count: number, indexed: boolean): Promise<{ perSecond: number; cpuMsPerMessage: number }> {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-bench-throughput-"));
  try {
    let store = await openSqliteStore({ dataDir });
    await store.close();
    if (!indexed) {
      const db = new Database(join(dataDir, "mailroom.sqlite"));
      db.exec("DROP TABLE search_index; CREATE TABLE search_index (text TEXT)");
      db.close();
    }
    store = await openSqliteStore({ dataDir });
    await store.addDomain("example.org");
    const account = await store.createAccount({ address: "user@example.org", passwordHash: "x" });
    const inbox = (await store.getMailbox(account.id, "INBOX"))!;
    const result = await deliverAll(store as unknown as DeliverStore, inbox.id, count);
    await store.close();
    return result;
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** nodeFileLayer without the fsyncs, for the untimed build of the searched mailbox. */
const fillLayer: FileLayer = {
  ...nodeFileLayer,
  async createExclusive(path) {
    const file = await nodeFileLayer.createExclusive(path);
    return { write: (b, o, l) => file.write(b, o, l), sync: async () => {}, close: () => file.close() };
  },
  fsyncDirectory: async () => {},
};

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function timed(client: RawImapClient, tag: string, command: string): Promise<{ ms: number; hits: number }> {
  const started = process.hrtime.bigint();
  // Not client.command(): its 5 s wait is too short for a search matching most of 100k messages.
  client.send(`${tag} ${command}\r\n`);
  await client.until((b) => new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`).test(b), 300_000);
  const reply = client.take();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (!new RegExp(`^${tag} OK`, "m").test(reply)) throw new Error(`${command}: ${reply.slice(-200)}`);
  const line = /^\* SEARCH(.*)$/m.exec(reply)?.[1] ?? "";
  let hits = line.trim() === "" ? 0 : line.trim().split(/\s+/).length;
  // ESEARCH answers: count the numbers of every ALL set.
  for (const [, set] of reply.matchAll(/^\* ESEARCH .* ALL ([0-9:,]+)/gm)) {
    for (const part of set!.split(",")) {
      const [a, b] = part.split(":").map(Number);
      hits += b === undefined ? 1 : Math.abs(b - a!) + 1;
    }
  }
  return { ms, hits };
}

/** Name, command, and whether Dovecot is asked too (it has no FUZZY index or MULTISEARCH). */
const SEARCHES: readonly (readonly [string, string, boolean])[] = [
  ["TEXT rare word", 'UID SEARCH TEXT "zephyrology"', true],
  ["TEXT common 3 chars", 'UID SEARCH TEXT "the"', true],
  ["TEXT common word", 'UID SEARCH TEXT "budget"', true],
  ["TEXT rare in-word", 'UID SEARCH TEXT "phyrolo"', true],
  ["TEXT common in-word", 'UID SEARCH TEXT "edul"', true],
  ["BODY rare phrase", 'UID SEARCH BODY "lighthouse cafe"', true],
  ["BODY common phrase", 'UID SEARCH BODY "budget report"', true],
  ["BODY 2 chars (scan)", 'UID SEARCH BODY "zq"', true],
  ["FUZZY typo RELEVANCY", 'UID SEARCH RETURN (ALL RELEVANCY) FUZZY TEXT "zephyrolgy"', false],
  ["SUBJECT", 'UID SEARCH SUBJECT "zephyr"', true],
  ["ESEARCH IN (personal)", 'ESEARCH IN (personal) TEXT "zephyrology"', false],
];

/** Each search --runs times; prints and returns the medians by name. */
async function runSearches(client: RawImapClient, runs: number, searches: typeof SEARCHES): Promise<Map<string, number>> {
  const medians = new Map<string, number>();
  for (const [name, command] of searches) {
    const times: number[] = [];
    let hits = 0;
    for (let r = 0; r < runs; r++) {
      const result = await timed(client, `t${r}`, command);
      times.push(result.ms);
      hits = result.hits;
    }
    medians.set(name, median(times));
    console.log(`${name.padEnd(22)} median ${median(times).toFixed(1)} ms (${times.map((t) => t.toFixed(1)).join(", ")}; ${hits} hits)  ${command}`);
  }
  return medians;
}

/**
 * The CPU of the store's answer (findTextMatches) and of the whole search (searchMailbox, no
 * response), in-process, median of 5: on a shared machine the wall time of a socket round trip
 * is mostly waiting for a core.
 */
async function storeCpu(store: MailStore, mailboxId: MailboxId, uids: readonly Uid[]): Promise<void> {
  const cases: [TextPart, string][] = [["text", "zephyrology"], ["text", "the"], ["text", "budget"], ["text", "phyrolo"], ["text", "edul"], ["body", "lighthouse cafe"], ["body", "budget report"], ["body", "zq"]];
  const cpuOf = async (work: () => Promise<unknown>): Promise<number> => {
    const before = process.cpuUsage();
    await work();
    const used = process.cpuUsage(before);
    return (used.user + used.system) / 1000;
  };
  for (const [part, needle] of cases) {
    const found: number[] = [];
    const whole: number[] = [];
    for (let r = 0; r < 5; r++) found.push(await cpuOf(() => store.findTextMatches(mailboxId, needle, part)));
    for (let r = 0; r < 5; r++) whole.push(await cpuOf(() => searchMailbox(store, { mailboxId, uids }, { kind: part, value: needle }, { modseq: false })));
    console.log(`CPU ${part.toUpperCase()} ${JSON.stringify(needle)}: findTextMatches median ${median(found).toFixed(1)} ms, searchMailbox median ${median(whole).toFixed(1)} ms`);
  }
}

/** Bytes of the files under `dir` whose name passes `keep`. */
async function treeBytes(dir: string, keep: (name: string) => boolean): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await treeBytes(path, keep);
    else if (keep(entry.name)) total += (await stat(path)).size;
  }
  return total;
}

/** Part 3: the same messages in a Maildir under Dovecot, the same searches, a side-by-side table. */
async function dovecotSide(count: number, runs: number, mailBytes: number, mailroom: Map<string, number>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-bench-dovecot-"));
  try {
    const maildir = join(dir, "mail", "alice", "Maildir");
    // Dovecot's mail processes run as nobody when we are root (bench/servers/dovecot.ts): they own the home.
    const owner = process.getuid?.() === 0 ? 65534 : null;
    const own = async (path: string): Promise<void> => {
      if (owner !== null) await chown(path, owner, owner);
    };
    for (const sub of ["cur", "new", "tmp"]) await mkdir(join(maildir, sub), { recursive: true });
    for (const path of [join(dir, "mail", "alice"), maildir, join(maildir, "cur"), join(maildir, "new"), join(maildir, "tmp")]) await own(path);
    const random = rng(42);
    for (let i = 0; i < count; i++) {
      const path = join(maildir, "cur", `${1700000000 + i}.M${i}P1.bench:2,`);
      await writeFile(path, message(i, random));
      await own(path);
    }
    const dovecot = await startDovecot(dir, ["alice"], 50);
    try {
      const client = await RawImapClient.open(dovecot.imap.port);
      await client.nextLine();
      await client.command("l", `LOGIN alice@${BENCH_DOMAIN} "${BENCH_PASSWORD}"`);
      // Untimed: the first SELECT indexes the Maildir, the first SEARCH fills the cache.
      await timed(client, "w1", "SELECT INBOX");
      await timed(client, "w2", 'UID SEARCH TEXT "warm-up"');
      console.log(`\nDovecot ${dovecot.version} (no FTS plugin), same ${count} messages as a Maildir:`);
      const theirs = await runSearches(client, runs, SEARCHES.filter((s) => s[2]));
      client.socket.destroy();
      const indexBytes = await treeBytes(maildir, (name) => name.startsWith("dovecot"));
      console.log(`Dovecot index and cache files: ${(indexBytes / 1e6).toFixed(1)} MB = ${(indexBytes / mailBytes).toFixed(2)}x the mail`);
      console.log("\n| search (median of " + runs + ", wall ms) | Mailroom | Dovecot | Dovecot / Mailroom |\n| --- | --- | --- | --- |");
      for (const [name, command] of SEARCHES.filter((s) => s[2])) {
        const a = mailroom.get(name)!;
        const b = theirs.get(name)!;
        console.log(`| ${name}: \`${command}\` | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(b / a).toFixed(1)}x |`);
      }
    } finally {
      await dovecot.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const count = Number(args.find((a, i) => /^\d+$/.test(a) && !["--runs", "--throughput"].includes(args[i - 1] ?? "")) ?? 100_000);
  const flag = (name: string, fallback: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
  const runs = flag("--runs", 3);
  const sample = flag("--throughput", 2_000);
  if (sample > 0) {
    const on: number[] = [];
    const off: number[] = [];
    const onCpu: number[] = [];
    const offCpu: number[] = [];
    for (let r = 0; r < runs; r++) {
      const a = await throughput(sample, false);
      const b = await throughput(sample, true);
      off.push(a.perSecond);
      offCpu.push(a.cpuMsPerMessage);
      on.push(b.perSecond);
      onCpu.push(b.cpuMsPerMessage);
    }
    const loss = (1 - median(on) / median(off)) * 100;
    const list = (values: number[], digits: number): string => values.map((v) => v.toFixed(digits)).join(", ");
    console.log(`delivery, ${sample} messages, 32 writers, fsync on, median of ${runs}: index off ${median(off).toFixed(1)} msg/s (${list(off, 1)}), on ${median(on).toFixed(1)} msg/s (${list(on, 1)}): ${loss.toFixed(1)} % lost`);
    const cpuCost = (median(onCpu) / median(offCpu) - 1) * 100;
    console.log(`delivery CPU per message, median of ${runs}: index off ${median(offCpu).toFixed(2)} ms (${list(offCpu, 2)}), on ${median(onCpu).toFixed(2)} ms (${list(onCpu, 2)}): +${cpuCost.toFixed(1)} %`);
  }
  const harness = await startImapHarness({ limits: { imapIdle: 600_000 }, store: { groupCommit: true, blobs: { files: fillLayer } } });
  try {
    const store = harness.temp.store;
    const inbox = (await store.getMailbox(harness.accounts.alice.id, "INBOX"))!;
    const built = await deliverAll(store as unknown as DeliverStore, inbox.id, count);
    console.log(`mailbox: ${count} messages, ${(built.bytes / 1e6).toFixed(1)} MB of mail (built without fsyncs at ${built.perSecond.toFixed(0)} msg/s)`);
    const db = new Database(join(harness.temp.dataDir, "mailroom.sqlite"), { readonly: true });
    const pages = (like: string): number => (db.prepare("SELECT count(*) AS n FROM dbstat WHERE name LIKE ?").get(like) as { n: number }).n;
    const pageSize = db.pragma("page_size", { simple: true }) as number;
    const indexBytes = pages("search_index%") * pageSize;
    const perMailbox = pages("messages_text") * pageSize;
    const textBytes = pages("search_index_content") * pageSize;
    const postingBytes = pages("search_index_data") * pageSize;
    db.close();
    const file = (await stat(join(harness.temp.dataDir, "mailroom.sqlite"))).size;
    console.log(`index: search_index* ${(indexBytes / 1e6).toFixed(1)} MB = ${(indexBytes / built.bytes).toFixed(2)}x the mail (the text ${(textBytes / 1e6).toFixed(1)} MB, positional trigram postings ${(postingBytes / 1e6).toFixed(1)} MB = ${(postingBytes / built.bytes).toFixed(2)}x), messages_text ${(perMailbox / 1e6).toFixed(1)} MB; database file ${(file / 1e6).toFixed(1)} MB = ${(file / built.bytes).toFixed(2)}x`);
    const client = await RawImapClient.open(harness.ports.imap);
    await client.nextLine();
    await client.command("l", 'LOGIN alice@example.org "alice-pass"');
    await client.command("s", "SELECT INBOX");
    const mailroom = await runSearches(client, runs, SEARCHES);
    await storeCpu(store, inbox.id, Array.from((await store.selectionIndex(inbox.id)).uids) as Uid[]);
    client.socket.destroy();
    if (args.includes("--dovecot")) await dovecotSide(count, runs, built.bytes, mailroom);
  } finally {
    await harness.stop();
  }
}

await main();
