// Inbound SMTP throughput of Mailroom: messages per second accepted on the port 25 role by an
// in-process server on a fresh temporary data directory, with 1 and 10 concurrent clients and 5 KB
// and 100 KB messages, PIPELINING on, counted from the first connect to the last 250. Each 250 comes
// only after the message is durable (blob fsync, directory fsync, SQLite commit; group commit on,
// the default), so this is the rate of mail a sender may forget about. Median of 3 runs, each on
// a new store.
//
// The server is the production path (server/listeners.ts, smtp/, SPF/DKIM/DMARC verification
// through mail-auth/) except DNS: the resolver is an empty table, so every lookup is an immediate
// NXDOMAIN and the figures do not depend on the network. The load generator runs in the same
// process, so client and server share one CPU core.
//   npm run build && node dist/bench/smtp-inbound.js [runs=3]
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfigText } from "../src/config/index.js";
import { createTableResolver } from "../src/mail-auth/index.js";
import { openSqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { startBenchMx } from "./lib/mx-server.js";
import { runSmtpLoad } from "./lib/smtp-load.js";

interface Case {
  clients: number;
  messageSize: number;
  messages: number;
}

const CASES: Case[] = [
  { clients: 1, messageSize: 5 * 1024, messages: 200 },
  { clients: 10, messageSize: 5 * 1024, messages: 600 },
  { clients: 1, messageSize: 100 * 1024, messages: 150 },
  { clients: 10, messageSize: 100 * 1024, messages: 400 },
];

/** One run: a fresh data dir and server, the load, then everything torn down. */
async function oneRun(benchCase: Case): Promise<number> {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-bench-smtp-"));
  const config = parseConfigText(`[server]\ndata_dir = "${dataDir}"\nhostname = "mx.bench.test"\n`);
  const store = await openSqliteStore({ dataDir, groupCommit: config.store.groupCommit });
  try {
    await store.addDomain("bench.test");
    await store.createAccount({ address: "user@bench.test", passwordHash: "x" });
    const mx = await startBenchMx({ store, config, dataDir, resolver: createTableResolver({}) });
    try {
      const result = await runSmtpLoad({ host: "127.0.0.1", port: mx.port, clients: benchCase.clients, messages: benchCase.messages, messageSize: benchCase.messageSize, pipelining: true });
      const inbox = (await store.getMailbox((await store.findAccountByAddress("user@bench.test"))!.id, "INBOX"))!;
      const stored = (await store.listMessages(inbox.id)).length;
      if (stored !== benchCase.messages) throw new Error(`expected ${benchCase.messages} messages in the INBOX, found ${stored}`);
      return result.messagesPerSecond;
    } finally {
      await mx.stop();
    }
  } finally {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  console.log(`Mailroom inbound SMTP (port 25 role), durable 250, PIPELINING, median of ${runs} runs`);
  console.log(`node ${process.version}, ${cpus()[0]?.model ?? "unknown CPU"} x${cpus().length}, data dir under ${tmpdir()}`);
  console.log("clients  size     messages  msg/s (runs)");
  for (const benchCase of CASES) {
    const rates: number[] = [];
    for (let run = 0; run < runs; run++) rates.push(await oneRun(benchCase));
    const size = `${benchCase.messageSize / 1024} KB`;
    console.log(`${String(benchCase.clients).padEnd(9)}${size.padEnd(9)}${String(benchCase.messages).padEnd(10)}${median(rates).toFixed(1).padStart(7)}  (${rates.map((r) => r.toFixed(0)).join(", ")})`);
  }
}

await main();
