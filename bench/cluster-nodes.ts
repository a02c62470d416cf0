// SMTP-to-IMAP end to end over real `mailroom serve` processes (issue 15): 1, 2 and 3 nodes on one
// PostgreSQL database, and one node on SQLite, under the same load. Each run starts fresh nodes on
// a fresh store (SQLite: a new data dir; PostgreSQL: a new database in one durable cluster, fsync
// and synchronous_commit on), adds 4 accounts, and logs in to each over IMAP on the last node.
// Then `clients` SMTP connections (port 25, bench/lib/smtp-load.ts), connection j to node j mod N
// and account j mod 4, send `messages` unique 5 KB messages in all; the figure is messages over
// the time from the first connect until every INBOX shows its messages over IMAP (STATUS polled
// every 50 ms on the last node: what a client there can see). Median of 3 runs per setup.
// Sender checks (SPF, DMARC) ask a loopback DNS server with no records; spam checks are off.
//   npm run build && node dist/bench/cluster-nodes.js [messages=400] [clients=8]
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startDnsServer } from "../test/harness/dns-server.js";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess } from "../test/harness/mailroom-process.js";
import { startPostgres, type PostgresCluster } from "../test/harness/postgres.js";
import { ImapClient } from "./lib/imap-client.js";
import { runSmtpLoad } from "./lib/smtp-load.js";

const RUNS = 3;
const ACCOUNTS = 4;
const PASSWORD = "bench password 1";
const MESSAGE_BYTES = 5 * 1024;

interface Setup {
  name: string;
  backend: "sqlite" | "postgresql";
  nodes: number;
}

async function runOnce(setup: Setup, cluster: PostgresCluster | null, dnsAddress: string, messages: number, clients: number): Promise<number> {
  const scratch = await makeScratch();
  const store = setup.backend === "postgresql" ? `[store]\nbackend = "postgresql"\nurl = "${await cluster!.createDatabase("bench")}"\n` : "";
  const envs: NodeJS.ProcessEnv[] = [];
  for (let i = 0; i < setup.nodes; i++) {
    const dir = join(scratch.dir, `node-${i}`);
    // serve drops root to server.user, who must reach the data dir inside.
    await mkdir(dir, { mode: 0o755 });
    await mkdir(join(dir, "data"), { mode: 0o700 });
    const configFile = join(dir, "mailroom.toml");
    await writeFile(
      configFile,
      serveConfig({
        listeners: [{ protocol: "smtp" }, { protocol: "imap" }],
        hostname: `node-${i}.bench.test`,
        plaintextAuthOnLoopback: true,
        extra: `${store}[outbound]\ndns_servers = ["${dnsAddress}"]\n[spam]\nenabled = false\niprev = false\n`,
      }),
    );
    envs.push({ MAILROOM_CONFIG: configFile, MAILROOM_DATA_DIR: join(dir, "data") });
  }
  const nodes: Awaited<ReturnType<typeof startServeProcess>>[] = [];
  const imap: ImapClient[] = [];
  try {
    const must = async (args: string[], input?: string) => {
      const result = await runMailroom(args, { env: envs[0]!, ...(input !== undefined ? { input } : {}), timeoutMs: 60_000 });
      if (result.code !== 0) throw new Error(`mailroom ${args.join(" ")}: ${result.stderr}`);
    };
    await must([...(setup.backend === "sqlite" ? ["--init"] : []), "domain", "add", "bench.test"]);
    for (let a = 0; a < ACCOUNTS; a++) await must(["user", "add", `user${a}@bench.test`], `${PASSWORD}\n`);
    nodes.push(...(await Promise.all(envs.map((env) => startServeProcess(env)))));
    const last = nodes[nodes.length - 1]!;
    const imapPort = listenerPort(last.banner, "imap");
    for (let a = 0; a < ACCOUNTS; a++) imap.push(await ImapClient.login({ host: "127.0.0.1", port: imapPort }, `user${a}@bench.test`, PASSWORD));
    const expected = Array.from({ length: ACCOUNTS }, (_, a) => Array.from({ length: clients }, (_, j) => j).filter((j) => j % ACCOUNTS === a).length * Math.floor(messages / clients));
    const started = process.hrtime.bigint();
    const load = Promise.all(
      Array.from({ length: clients }, (_, j) =>
        runSmtpLoad({ host: "127.0.0.1", port: listenerPort(nodes[j % nodes.length]!.banner, "smtp"), clients: 1, messages: Math.floor(messages / clients), messageSize: MESSAGE_BYTES, pipelining: true, to: `user${j % ACCOUNTS}@bench.test`, helo: `client${j}.bench.example` }),
      ),
    );
    let failed: unknown = null;
    load.catch((error: unknown) => (failed = error));
    for (;;) {
      if (failed !== null) throw failed;
      const counts = await Promise.all(imap.map((c) => c.messageCount("INBOX")));
      if (counts.every((n, a) => n >= expected[a]!)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await load;
    return expected.reduce((s, n) => s + n, 0) / seconds;
  } finally {
    for (const c of imap) await c.logout();
    await Promise.all(nodes.map((n) => n.stop()));
    await scratch.cleanup();
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const messages = Number(process.argv[2] ?? 400);
  const clients = Number(process.argv[3] ?? 8);
  const dns = await startDnsServer({});
  const cluster = await startPostgres({ durable: true });
  const setups: Setup[] = [
    { name: "sqlite, 1 node", backend: "sqlite", nodes: 1 },
    { name: "postgresql, 1 node", backend: "postgresql", nodes: 1 },
    { name: "postgresql, 2 nodes", backend: "postgresql", nodes: 2 },
    { name: "postgresql, 3 nodes", backend: "postgresql", nodes: 3 },
  ];
  try {
    console.log(`${messages} messages of ${MESSAGE_BYTES} octets, ${clients} SMTP connections, ${ACCOUNTS} accounts; median of ${RUNS}`);
    console.log("| setup | SMTP-to-IMAP msg/s (median) | runs |");
    console.log("|---|---:|---|");
    for (const setup of setups) {
      const runs: number[] = [];
      for (let r = 0; r < RUNS; r++) runs.push(await runOnce(setup, cluster, dns.address, messages, clients));
      console.log(`| ${setup.name} | ${median(runs).toFixed(1)} | ${runs.map((v) => v.toFixed(1)).join(", ")} |`);
    }
  } finally {
    await cluster.stop();
    await dns.close();
  }
}

// A bench stopped with ^C or a timeout still stops its PostgreSQL cluster (the harness's exit hook).
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

await main();
