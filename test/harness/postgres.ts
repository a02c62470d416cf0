// A throwaway PostgreSQL cluster for tests: initdb into a fresh temp dir, a random free port on
// 127.0.0.1, the unix socket inside the temp dir, fsync off (a test cluster need not survive a
// power cut), started with `pg_ctl -w`. Run as the `postgres` system user when the tests run as
// root (PostgreSQL refuses to run as root). One cluster per test file; each test takes a fresh
// database from it (CREATE DATABASE copies template1, a few milliseconds). stop() removes it all,
// and a process exit that skipped stop() still stops the server (pg_ctl stop -m immediate).
import { spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import pg from "pg";

/** Where Debian (and the CI image, .ci/run) puts the server binaries: not on PATH. */
export function findPostgresBin(): string | null {
  const fromEnv = process.env["MAILROOM_PG_BIN"];
  if (fromEnv && existsSync(join(fromEnv, "initdb"))) return fromEnv;
  const root = "/usr/lib/postgresql";
  let versions: string[];
  try {
    versions = readdirSync(root);
  } catch {
    return null;
  }
  const sorted = versions.filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const version of sorted) {
    const bin = join(root, version, "bin");
    if (existsSync(join(bin, "initdb")) && existsSync(join(bin, "pg_ctl"))) return bin;
  }
  return null;
}

/** Why PostgreSQL tests cannot run here, or null when they can (for `test(..., { skip })`). */
export function postgresUnavailable(): string | null {
  if (findPostgresBin() === null) return "no PostgreSQL server binaries (apt-get install postgresql; .ci/run installs them)";
  if (userInfo().uid === 0 && spawnSync("id", ["-u", "postgres"]).status !== 0) return "running as root and there is no postgres system user to run the server as";
  return null;
}

export interface PostgresCluster {
  readonly host: string;
  readonly port: number;
  /** The superuser the tests connect as. */
  readonly user: string;
  /** Its password when the cluster was started with one (scram-sha-256 on TCP), else null (trust). */
  readonly password: string | null;
  readonly dataDir: string;
  /** postgres://user@127.0.0.1:port/database (with the password in it only when asked). */
  url(database?: string, withPassword?: boolean): string;
  /** A new, empty database (named uniquely); returns its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** One statement as the superuser on the `postgres` database (tests: inspect, terminate backends). */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[], database?: string): Promise<T[]>;
  /** Stops the server (fast mode: sessions are ended) without removing its data. */
  stopServer(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again on the same port. */
  startServer(): Promise<void>;
  /** stopServer then startServer: what a database restart looks like to clients. */
  restart(): Promise<void>;
  /** Stops the server and removes the cluster's directory. */
  stop(): Promise<void>;
}

const asPostgres = userInfo().uid === 0;

function run(bin: string, args: string[]): Promise<void> {
  const [command, argv] = asPostgres ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${bin} ${args.join(" ")} exited ${code}:\n${output}`))));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

const live = new Set<{ pgCtl: string; dataDir: string; root: string }>();
let exitHookInstalled = false;

/** Last resort for a test process that ends without stop(): no server is left running. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const cluster of live) {
      const args = ["stop", "-D", cluster.dataDir, "-m", "immediate", "-w"];
      if (asPostgres) spawnSync("runuser", ["-u", "postgres", "--", cluster.pgCtl, ...args], { stdio: "ignore" });
      else spawnSync(cluster.pgCtl, args, { stdio: "ignore" });
      rmSync(cluster.root, { recursive: true, force: true });
    }
  });
}

export async function startPostgres(options: { prefix?: string; /** Require this password on TCP (scram-sha-256) instead of trusting 127.0.0.1. */ password?: string; /** Keep fsync on (benchmarks: figures with real durability). */ durable?: boolean } = {}): Promise<PostgresCluster> {
  const bin = findPostgresBin();
  if (bin === null) throw new Error(postgresUnavailable() ?? "no PostgreSQL");
  const root = await mkdtemp(join(tmpdir(), options.prefix ?? "mailroom-pg-"));
  const dataDir = join(root, "data");
  if (asPostgres) {
    const pgUser = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
    const pgGroup = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
    chownSync(root, Number(pgUser.stdout.trim()), Number(pgGroup.stdout.trim()));
  }
  const user = asPostgres ? "postgres" : userInfo().username;
  // UTF8 and the C locale: the store keeps any Unicode text and compares bytes, never a locale's collation.
  const auth = ["--auth=trust"];
  if (options.password !== undefined) {
    const pwfile = join(root, "pwfile");
    writeFileSync(pwfile, options.password + "\n", { mode: 0o600 });
    if (asPostgres) chownSync(pwfile, Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim()), 0);
    auth.splice(0, 1, "--auth-local=trust", "--auth-host=scram-sha-256", `--pwfile=${pwfile}`);
  }
  await run(join(bin, "initdb"), ["-D", dataDir, "-U", user, "-E", "UTF8", "--locale=C", ...auth, "--no-sync"]);
  const pgCtl = join(bin, "pg_ctl");
  const entry = { pgCtl, dataDir, root };
  live.add(entry);
  installExitHook();
  let port = 0;
  const startServer = async (): Promise<void> => {
    const serverOptions = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${root}${options.durable ? "" : " -c fsync=off -c full_page_writes=off"} -c max_connections=200`;
    await run(pgCtl, ["start", "-D", dataDir, "-w", "-t", "60", "-l", join(root, "server.log"), "-o", serverOptions]);
  };
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await startServer();
      break;
    } catch (err) {
      // Another process may have taken the port between our probe and the server's bind.
      if (attempt >= 3) {
        live.delete(entry);
        rmSync(root, { recursive: true, force: true });
        throw err;
      }
    }
  }
  const url = (database = "postgres", withPassword = false) =>
    `postgres://${encodeURIComponent(user)}${withPassword && options.password !== undefined ? `:${encodeURIComponent(options.password)}` : ""}@127.0.0.1:${port}/${database}`;
  let serial = 0;
  const query = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = [], database = "postgres"): Promise<T[]> => {
    const client = new pg.Client({ connectionString: url(database, true) });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  let running = true;
  const stopServer = async (mode: "fast" | "immediate" = "fast") => {
    if (!running) return;
    await run(pgCtl, ["stop", "-D", dataDir, "-m", mode, "-w"]);
    running = false;
  };
  return {
    host: "127.0.0.1",
    port,
    user,
    password: options.password ?? null,
    dataDir,
    url,
    async createDatabase(prefix = "t") {
      const name = `${prefix}_${process.pid}_${++serial}_${Date.now().toString(36)}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
      await query(`CREATE DATABASE "${name}"`);
      return url(name);
    },
    query,
    stopServer,
    async startServer() {
      if (running) return;
      await startServer();
      running = true;
    },
    async restart() {
      await stopServer("fast");
      await startServer();
      running = true;
    },
    async stop() {
      if (!live.has(entry)) return;
      try {
        await stopServer("immediate");
      } finally {
        live.delete(entry);
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
