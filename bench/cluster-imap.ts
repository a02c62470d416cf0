// IMAP across 1, 2 and 3 `mailroom serve` nodes on one PostgreSQL database (issue 15), two figures,
// median of 3 runs each, every run on fresh nodes and a fresh database in one durable cluster
// (fsync and synchronous_commit on):
//
// 1. imaptest stress through HAProxy: Dovecot's imaptest (../shared/tools/imaptest, as driven by
//    test/e2e/imaptest.test.ts) with `clients` connections for `secs` seconds against one HAProxy
//    frontend that spreads connections round-robin over the nodes, so imaptest's sessions on one
//    mailbox are on different nodes and see each other's changes through the database and the
//    change feed. imaptest checks every untagged response against its model of the mailbox: the
//    bar is 0 errors. The figure is imaptest's commands per second.
// 2. Writes into one mailbox from every node: `writers` connections, writer j on node j mod N,
//    half SMTP (port 25, bench/lib/smtp-load.ts) and half IMAP APPEND (bench/lib/imap-client.ts),
//    all into user0's INBOX, `messages` unique 5 KB messages in all. The figure is messages over
//    the time until STATUS on the last node shows them all; afterwards every UID is checked to be
//    unique and ascending (UID FETCH 1:* on the last node).
//
//   npm run build && node dist/bench/cluster-imap.js [secs=30] [clients=10] [messages=300] [writers=6]
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startDnsServer } from "../test/harness/dns-server.js";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess } from "../test/harness/mailroom-process.js";
import { startPostgres, type PostgresCluster } from "../test/harness/postgres.js";
import { ImapClient } from "./lib/imap-client.js";
import { runSmtpLoad } from "./lib/smtp-load.js";

const RUNS = 3;
const PASSWORD = "bench password 1";
const MESSAGE_BYTES = 5 * 1024;

function imaptestDir(): string {
  const dirs = [process.env.IMAPTEST_DIR, resolve(process.cwd(), "..", "shared", "tools", "imaptest"), "/work/shared/tools/imaptest"].filter((d): d is string => typeof d === "string");
  const dir = dirs.find((d) => existsSync(join(d, "imaptest")));
  if (dir === undefined) throw new Error(`imaptest not found in ${dirs.join(", ")}`);
  return dir;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** HAProxy in TCP mode, one frontend, round-robin over the nodes' IMAP ports. */
async function startBalancer(targets: number[]): Promise<{ port: number; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-bench-haproxy-"));
  const port = await freePort();
  const config = [
    "global",
    "  maxconn 500",
    "defaults",
    "  mode tcp",
    "  timeout connect 5s",
    "  timeout client 300s",
    "  timeout server 300s",
    "frontend imap",
    `  bind 127.0.0.1:${port}`,
    "  default_backend nodes",
    "backend nodes",
    "  balance roundrobin",
    ...targets.map((t, i) => `  server n${i} 127.0.0.1:${t}`),
    "",
  ].join("\n");
  await writeFile(join(dir, "haproxy.cfg"), config);
  const child = spawn("haproxy", ["-db", "-f", join(dir, "haproxy.cfg")], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${stderr}`);
    const up = await new Promise<boolean>((r) => {
      const probe = createServer();
      probe.once("error", () => r(true));
      probe.listen(port, "127.0.0.1", () => probe.close(() => r(false)));
    });
    if (up) break;
    if (i > 100) throw new Error(`haproxy did not listen: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

interface Nodes {
  ports: number[];
  stop(): Promise<void>;
}

async function startNodes(count: number, cluster: PostgresCluster, dnsAddress: string): Promise<Nodes> {
  const scratch = await makeScratch();
  const url = await cluster.createDatabase("bench");
  const envs: NodeJS.ProcessEnv[] = [];
  for (let i = 0; i < count; i++) {
    const dir = join(scratch.dir, `node-${i}`);
    await mkdir(dir, { mode: 0o755 });
    await mkdir(join(dir, "data"), { mode: 0o700 });
    const configFile = join(dir, "mailroom.toml");
    await writeFile(
      configFile,
      serveConfig({
        listeners: [{ protocol: "smtp" }, { protocol: "imap" }],
        hostname: `node-${i}.bench.test`,
        plaintextAuthOnLoopback: true,
        // imaptest's 10+ sessions come from one address through the balancer.
        extra: `[store]\nbackend = "postgresql"\nurl = "${url}"\n[outbound]\ndns_servers = ["${dnsAddress}"]\n[spam]\nenabled = false\niprev = false\n[limits]\nconnections_per_ip = 1000\n`,
      }),
    );
    envs.push({ MAILROOM_CONFIG: configFile, MAILROOM_DATA_DIR: join(dir, "data") });
  }
  const must = async (args: string[], input?: string) => {
    const result = await runMailroom(args, { env: envs[0]!, ...(input !== undefined ? { input } : {}), timeoutMs: 60_000 });
    if (result.code !== 0) throw new Error(`mailroom ${args.join(" ")}: ${result.stderr}`);
  };
  await must(["domain", "add", "bench.test"]);
  for (let a = 0; a < 2; a++) await must(["user", "add", `user${a}@bench.test`], `${PASSWORD}\n`);
  // One after another: on a loaded machine several starting at once can pass the harness's 30 s banner wait.
  const nodes: Awaited<ReturnType<typeof startServeProcess>>[] = [];
  for (const env of envs) nodes.push(await startServeProcess(env));
  return {
    ports: nodes.flatMap((n) => [listenerPort(n.banner, "imap"), listenerPort(n.banner, "smtp")]),
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      await scratch.cleanup();
    },
  };
}

const imapPorts = (nodes: Nodes) => nodes.ports.filter((_, i) => i % 2 === 0);
const smtpPorts = (nodes: Nodes) => nodes.ports.filter((_, i) => i % 2 === 1);

async function imaptestRun(count: number, cluster: PostgresCluster, dnsAddress: string, secs: number, clients: number): Promise<{ perSecond: number; errors: number; sample: string }> {
  const nodes = await startNodes(count, cluster, dnsAddress);
  const balancer = await startBalancer(imapPorts(nodes));
  try {
    const dir = imaptestDir();
    const child = spawn(join(dir, "imaptest"), [`host=127.0.0.1`, `port=${balancer.port}`, `user=user0@bench.test`, `pass=${PASSWORD}`, `mbox=${join(dir, "tests", "default.mbox")}`, `clients=${clients}`, `secs=${secs}`], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), (secs + 120) * 1000);
    await once(child, "close");
    clearTimeout(timer);
    const totals = /^Totals:\n[^\n]+\n(?:[^\n]*%[^\n]*\n)+\s*([\d ]+)$/m.exec(output);
    if (totals === null) throw new Error(`imaptest printed no totals:\n${output.slice(-2000)}`);
    const commands = totals[1]!.trim().split(/\s+/).reduce((n, c) => n + Number(c), 0);
    const errors = output.split("\n").filter((line) => line.startsWith("Error:"));
    return { perSecond: commands / secs, errors: errors.length, sample: errors.slice(0, 3).join("\n") };
  } finally {
    await balancer.stop();
    await nodes.stop();
  }
}

async function writesRun(count: number, cluster: PostgresCluster, dnsAddress: string, messages: number, writers: number): Promise<number> {
  const nodes = await startNodes(count, cluster, dnsAddress);
  const reader = await ImapClient.login({ host: "127.0.0.1", port: imapPorts(nodes)[count - 1]! }, "user0@bench.test", PASSWORD);
  try {
    const perWriter = Math.floor(messages / writers);
    const total = perWriter * writers;
    const started = process.hrtime.bigint();
    const body = (w: number, i: number) => Buffer.from(`From: w${w}@bench.example\r\nTo: user0@bench.test\r\nSubject: append ${w} ${i}\r\nMessage-ID: <a-${w}-${i}-${started}@bench.example>\r\n\r\n${"x".repeat(76)}\r\n`.padEnd(MESSAGE_BYTES, "y") + "\r\n");
    const load = Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const node = w % count;
        if (w % 2 === 0) {
          await runSmtpLoad({ host: "127.0.0.1", port: smtpPorts(nodes)[node]!, clients: 1, messages: perWriter, messageSize: MESSAGE_BYTES, pipelining: true, to: "user0@bench.test", helo: `writer${w}.bench.example` });
          return;
        }
        const client = await ImapClient.login({ host: "127.0.0.1", port: imapPorts(nodes)[node]! }, "user0@bench.test", PASSWORD);
        try {
          for (let i = 0; i < perWriter; i++) {
            const result = await client.append("INBOX", body(w, i));
            if (result.status !== "OK") throw new Error(`APPEND: ${result.status} ${result.text}`);
          }
        } finally {
          await client.logout();
        }
      }),
    );
    let failed: unknown = null;
    load.catch((error: unknown) => (failed = error));
    for (;;) {
      if (failed !== null) throw failed;
      if ((await reader.messageCount("INBOX")) >= total) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await load;
    // Every message has its own UID, ascending in the order the server lists them.
    await reader.ok("SELECT INBOX");
    const fetched = await reader.ok("UID FETCH 1:* (UID)", true);
    const uids = fetched.lines.map((l) => /UID (\d+)/.exec(l)?.[1]).filter((u): u is string => u !== undefined).map(Number);
    if (uids.length !== total || uids.some((u, i) => i > 0 && u <= uids[i - 1]!)) throw new Error(`UIDs: ${uids.length} of ${total}, or not strictly ascending`);
    return total / seconds;
  } finally {
    await reader.logout();
    await nodes.stop();
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const secs = Number(process.argv[2] ?? 30);
  const clients = Number(process.argv[3] ?? 10);
  const messages = Number(process.argv[4] ?? 300);
  const writers = Number(process.argv[5] ?? 6);
  const only = process.env.BENCH_ONLY ?? "";
  const dns = await startDnsServer({});
  const cluster = await startPostgres({ durable: true });
  try {
    if (only !== "writes") {
      console.log(`imaptest stress through HAProxy: ${clients} clients, ${secs} s, one mailbox; median of ${RUNS}`);
      console.log("| nodes | imaptest commands/s (median) | runs | imaptest errors (all runs) |");
      console.log("|---:|---:|---|---:|");
      for (const count of [1, 2, 3]) {
        const runs: { perSecond: number; errors: number; sample: string }[] = [];
        for (let r = 0; r < RUNS; r++) runs.push(await imaptestRun(count, cluster, dns.address, secs, clients));
        console.log(`| ${count} | ${median(runs.map((x) => x.perSecond)).toFixed(1)} | ${runs.map((x) => x.perSecond.toFixed(1)).join(", ")} | ${runs.reduce((n, x) => n + x.errors, 0)} |`);
        for (const x of runs) if (x.errors > 0) console.log(`  errors: ${x.sample}`);
      }
    }
    if (only !== "imaptest") {
      console.log(`\none mailbox, ${writers} writers (half SMTP, half APPEND) spread over the nodes, ${messages} messages of ${MESSAGE_BYTES} octets; median of ${RUNS}`);
      console.log("| nodes | msg/s into one mailbox (median) | runs |");
      console.log("|---:|---:|---|");
      for (const count of [1, 2, 3]) {
        const runs: number[] = [];
        for (let r = 0; r < RUNS; r++) runs.push(await writesRun(count, cluster, dns.address, messages, writers));
        console.log(`| ${count} | ${median(runs).toFixed(1)} | ${runs.map((v) => v.toFixed(1)).join(", ")} |`);
      }
    }
  } finally {
    await cluster.stop();
    await dns.close();
  }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

await main();
