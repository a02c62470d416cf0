// What the inbound spam checks cost (issue 17): (1) the per-account classifier's time for one
// 50 KB message (tokens + statistics read from SQLite + the chi-square verdict), median of 200;
// (2) inbound SMTP throughput (port 25 role, durable 250, 10 clients, 5 KB messages) with the
// spam checks off and on (two DNSBLs, a URIBL and iprev answered by an in-process table resolver,
// so the figure is our cost and not the network's; the classifier trained with 200+200 messages),
// in the same run, median of `runs`, and the loss in percent.
//   npm run build && node dist/bench/spam-checks.js [runs=3]
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseConfigText } from "../src/config/index.js";
import { createTableResolver } from "../src/mail-auth/index.js";
import { foldCase } from "../src/mail/case-fold.js";
import { silentLogger } from "../src/observability/log.js";
import { createSpamChecker } from "../src/server/spam-checker.js";
import { spamProbability, tokenize } from "../src/spam/index.js";
import type { AccountId } from "../src/store/index.js";
import { openSqliteStore, type SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { startBenchMx } from "./lib/mx-server.js";
import { runSmtpLoad } from "./lib/smtp-load.js";

const WORDS = "the and you for this that with have please today thanks meeting project lunch report schedule review winner lottery casino bonus cheap pills prize claim urgent offer".split(" ");

function text(bytes: number, seed: number): string {
  const out: string[] = [];
  let length = 0;
  let state = seed;
  while (length < bytes) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    const word = `${WORDS[state % WORDS.length]}${state % 7 === 0 ? String(state % 1000) : ""}`;
    out.push(word);
    length += word.length + 1;
  }
  return out.join(" ");
}

async function train(store: SqliteStore, account: AccountId): Promise<void> {
  for (let i = 0; i < 400; i++) await store.trainSpamMessage(account, `m${i}`, tokenize(foldCase(text(4000, i))), i % 2 === 0 ? "spam" : "ham");
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function withStore<T>(run: (store: SqliteStore, dataDir: string, account: AccountId) => Promise<T>): Promise<T> {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-bench-spam-"));
  const store = await openSqliteStore({ dataDir });
  try {
    await store.addDomain("bench.test");
    const account = await store.createAccount({ address: "user@bench.test", passwordHash: "x" });
    return await run(store, dataDir, account.id);
  } finally {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function classifierTime(): Promise<number> {
  return withStore(async (store, _dir, account) => {
    await train(store, account);
    const message = text(50 * 1024, 999);
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      const started = performance.now();
      const tokens = tokenize(foldCase(message));
      spamProbability(await store.readSpamTokens(account, tokens), tokens, 20);
      times.push(performance.now() - started);
    }
    return median(times);
  });
}

const SPAM_TOML = `[spam]\nexempt_networks = []\ndnsbl = { "bl.bench.test" = 5.0, "wl.bench.test" = -1.0 }\nuribl = { "uri.bench.test" = 5.0 }\n`;

async function throughput(spamOn: boolean): Promise<number> {
  return withStore(async (store, dataDir, account) => {
    if (spamOn) await train(store, account);
    const config = parseConfigText(`[server]\ndata_dir = "${dataDir}"\nhostname = "mx.bench.test"\n${SPAM_TOML}`);
    const resolver = createTableResolver({
      "1.0.0.127.in-addr.arpa": { PTR: ["client.bench.test"] },
      "client.bench.test": { A: ["127.0.0.1"] },
      "1.0.0.127.wl.bench.test": { A: ["127.0.0.2"] },
    });
    const spam = spamOn ? createSpamChecker({ settings: config.spam, resolver, log: silentLogger, tokens: store }) : null;
    const mx = await startBenchMx({ store, config, dataDir, resolver, spam });
    try {
      const result = await runSmtpLoad({ host: "127.0.0.1", port: mx.port, clients: 10, messages: 600, messageSize: 5 * 1024, pipelining: true });
      return result.messagesPerSecond;
    } finally {
      await mx.stop();
    }
  });
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  console.log(`Mailroom inbound spam checks, median of ${runs} runs; node ${process.version}, ${cpus()[0]?.model ?? "unknown CPU"} x${cpus().length}`);
  console.log(`classifier, one 50 KB message (tokens, statistics from SQLite, verdict): ${(await classifierTime()).toFixed(2)} ms (median of 200)`);
  const off: number[] = [];
  const on: number[] = [];
  for (let run = 0; run < runs; run++) {
    off.push(await throughput(false));
    on.push(await throughput(true));
  }
  const loss = (1 - median(on) / median(off)) * 100;
  console.log(`SMTP port 25, 10 clients, 5 KB: checks off ${median(off).toFixed(1)} msg/s (${off.map((r) => r.toFixed(0)).join(", ")}), on ${median(on).toFixed(1)} msg/s (${on.map((r) => r.toFixed(0)).join(", ")}): ${loss.toFixed(1)}% lost`);
}

await main();
