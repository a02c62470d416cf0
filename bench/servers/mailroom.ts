// Mailroom under test: a TOML config in the throw-away directory (SMTP, IMAP and POP3 on
// 127.0.0.1 port 0, plaintext like the peer, fast Argon2 parameters shared with the peer's
// password hashes), the domain and accounts created with the `mailroom` CLI, then
// `mailroom serve` as a child process. Real ports and missing protocols are read from
// the start banner, so a protocol that is not built yet shows up as "unavailable", not as a crash.
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { prefillMailroom, type PrefillSpec } from "../lib/prefill.js";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Endpoint } from "../lib/wire.js";
import { isAlive, runChecked, stopTree } from "./child-process.js";
import { BENCH_DOMAIN, BENCH_PASSWORD, type Account, type Service, type Target } from "./target.js";

// The compiled entry of `mailroom` (what bin/mailroom.js runs after its build check). `npm run bench`
// has just built it; calling it directly keeps a second, concurrent tsc out of the measurement.
const MAIN = new URL("../../src/main.js", import.meta.url).href;
const cliArgs = (main: string): string[] => ["--input-type=module", "-e", `const { main } = await import(${JSON.stringify(main)}); await main(process.argv.slice(1));`, "--"];

/**
 * Another compiled checkout of Mailroom to run instead of this one (bench/compare-commits.ts): its
 * `dist/` holds the server and the prefill of that commit, so its own store code writes its own schema.
 */
export interface MailroomBuild {
  /** The checkout's root (the directory holding dist/). */
  root: string;
  label: string;
}
const execFileAsync = promisify(execFile);
const PROTOCOLS: Record<string, Service> = { smtp: "smtp", imap: "imap", pop3: "pop3" };

function configToml(dataDir: string): string {
  const listener = (protocol: string) => `[[listeners]]\nprotocol = "${protocol}"\nport = 0\naddress = "127.0.0.1"\ntls = "none"\n`;
  return [
    "# Written by the benchmark (bench/servers/mailroom.ts); thrown away after the run.",
    "[server]",
    `hostname = "mailroom.bench.invalid"`,
    `data_dir = ${JSON.stringify(dataDir)}`,
    `log_level = "warn"`,
    "port_fallback_offset = 0",
    "[tls]",
    "allow_plaintext_auth = true",
    "allow_plaintext_auth_on_loopback = true",
    "[limits]",
    // 10,000 IDLE clients all come from 127.0.0.1.
    "connections_per_ip = 30000",
    "connections_total = 30000",
    "[auth]",
    "argon2_memory_kib = 1024",
    "argon2_time_cost = 1",
    "argon2_parallelism = 1",
    "throttle_lockout_ip = 1000000",
    "[store]",
    "group_commit = true",
    "[shutdown]",
    `grace_period = "2s"`,
    "",
    listener("smtp"),
    listener("imap"),
    listener("pop3"),
  ].join("\n");
}

/** "  imap         127.0.0.1:40123  IMAP, ..." and "  pop3         not started: <reason>". */
export function parseBanner(banner: string): { endpoints: Partial<Record<Service, Endpoint>>; unavailable: Partial<Record<Service, string>> } {
  const endpoints: Partial<Record<Service, Endpoint>> = {};
  const unavailable: Partial<Record<Service, string>> = {};
  for (const line of banner.split("\n")) {
    const bound = /^\s+(\w+)\s+([\d.]+):(\d+)\b/.exec(line);
    const skipped = /^\s+(\w+)\s+not started: (.*)$/.exec(line);
    const service = PROTOCOLS[(bound ?? skipped)?.[1] ?? ""];
    if (!service) continue;
    if (bound) endpoints[service] = { host: bound[2]!, port: Number(bound[3]) };
    else if (skipped) unavailable[service] = `Mailroom ${service.toUpperCase()}: ${skipped[2]!}`;
  }
  return { endpoints, unavailable };
}

export async function startMailroom(dir: string, localParts: readonly string[], prefills: readonly PrefillSpec[] = [], say: (line: string) => void = () => {}, build?: MailroomBuild): Promise<Target> {
  const cli = cliArgs(build ? pathToFileURL(join(build.root, "dist", "src", "main.js")).href : MAIN);
  const prefill: typeof prefillMailroom = build
    ? ((await import(pathToFileURL(join(build.root, "dist", "bench", "lib", "prefill.js")).href)) as { prefillMailroom: typeof prefillMailroom }).prefillMailroom
    : prefillMailroom;
  const label = build?.label ?? "Mailroom";
  await mkdir(dir, { recursive: true });
  const configFile = join(dir, "mailroom.toml");
  await writeFile(configFile, configToml(join(dir, "data")));
  const env = { ...process.env, MAILROOM_CONFIG: configFile };
  runChecked(process.execPath, [...cli, "--init", "domain", "add", BENCH_DOMAIN], { env });
  for (const local of localParts) runChecked(process.execPath, [...cli, "user", "add", `${local}@${BENCH_DOMAIN}`], { env, input: `${BENCH_PASSWORD}\n` });

  // Big mailboxes go in through the store before the server owns the data dir (bench/lib/prefill.ts).
  const prefilled = new Map<string, number>();
  for (const spec of prefills) {
    say(`  filling ${label} ${spec.local} INBOX with ${spec.count} messages through the store API ...`);
    prefilled.set(spec.local, await prefill(join(dir, "data"), `${spec.local}@${BENCH_DOMAIN}`, spec, say));
  }
  const log = createWriteStream(join(dir, "mailroom.log"));
  const child = spawn(process.execPath, [...cli, "serve"], { env, stdio: ["ignore", "pipe", "pipe"], cwd: dir });
  child.stderr.pipe(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not start Mailroom");
  const banner = await new Promise<string>((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`Mailroom printed no banner within 60 s (see ${join(dir, "mailroom.log")})`)), 60_000);
    child.stdout.on("data", (chunk: Buffer) => {
      log.write(chunk);
      text += chunk.toString("utf8");
      if (/^(Domains:|Next:)/m.test(text)) { clearTimeout(timer); resolve(text); }
    });
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`Mailroom exited with ${code} before serving (see ${join(dir, "mailroom.log")})`)); });
  });
  const { endpoints, unavailable } = parseBanner(banner);
  for (const service of ["smtp", "imap", "pop3"] as const) if (!endpoints[service]) unavailable[service] ??= `Mailroom ${service.toUpperCase()} is not served`;
  return {
    role: "mailroom",
    label,
    endpoints,
    unavailable,
    account: (local): Account => ({ address: `${local}@${BENCH_DOMAIN}`, password: BENCH_PASSWORD }),
    rootPids: () => (isAlive(pid) ? [pid] : []),
    prefilled,
    // `mailroom status` over the control socket, as an operator would read it.
    async eventLoop(reset) {
      const { stdout } = await execFileAsync(process.execPath, [...cli, "status", ...(reset ? ["--reset"] : [])], { env, timeout: 60_000 });
      const match = /longest stall ([\d.]+) ms, 99th percentile ([\d.]+) ms/.exec(stdout);
      if (!match) throw new Error(`mailroom status printed no event-loop figures: ${stdout.trim().slice(0, 200)}`);
      return { maxStallMs: Number(match[1]), p99StallMs: Number(match[2]) };
    },
    // `mailroom sieve put --activate` through the control socket, as an operator would.
    async putSieveScript(local, name, script) {
      const file = join(dir, `${local}-${name}.sieve`);
      await writeFile(file, script);
      await execFileAsync(process.execPath, [...cli, "sieve", "put", `${local}@${BENCH_DOMAIN}`, name, file, "--activate"], { env, timeout: 60_000 });
    },
    // One SQLite database holds every account's index: its files (with WAL and shm) are the index.
    async indexBytes() {
      let total = 0;
      for (const name of await readdir(join(dir, "data"))) if (name.startsWith("mailroom.sqlite")) total += (await stat(join(dir, "data", name))).size;
      return total;
    },
    async stop() {
      await stopTree(pid, 15_000);
      log.end();
    },
  };
}
