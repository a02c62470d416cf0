// A real rspamd (Debian's package) with its own redis, for the spam tests: both on free loopback
// ports, their state in a temp dir, rspamd's DNS pointed at the test's loopback DNS server so no
// lookup leaves the machine, hyperscan off (it compiles for half a minute at every cold start),
// and both stopped and removed on stop() or when the test process exits.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface RspamdInstance {
  /** "http://127.0.0.1:<port>", the normal worker (checkv2). */
  url: string;
  stop(): Promise<void>;
}

export function rspamdAvailable(): boolean {
  return spawnSync("rspamd", ["--version"]).status === 0 && spawnSync("redis-server", ["--version"]).status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function ownedByRspamd(path: string): void {
  const id = spawnSync("id", ["-u", "_rspamd"], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", "_rspamd"], { encoding: "utf8" });
  if (id.status !== 0 || process.getuid?.() !== 0) return;
  const chown = (p: string) => chownSync(p, Number(id.stdout.trim()), Number(gid.stdout.trim()));
  chown(path);
  for (const entry of readdirSync(path, { recursive: true, withFileTypes: false }) as string[]) chown(join(path, entry));
}

export async function startRspamd(options: { dnsServer: string }): Promise<RspamdInstance> {
  const dir = mkdtempSync(join(tmpdir(), "mailroom-rspamd-"));
  chmodSync(dir, 0o755);
  for (const sub of ["local.d", "override.d", "db", "run", "log"]) mkdirSync(join(dir, sub));
  const [normal, controller, redisPort] = [await freePort(), await freePort(), await freePort()];
  const files: Record<string, string> = {
    "local.d/worker-normal.inc": `bind_socket = "127.0.0.1:${normal}";\ncount = 1;\n`,
    "local.d/worker-controller.inc": `bind_socket = "127.0.0.1:${controller}";\ncount = 1;\n`,
    "override.d/worker-proxy.inc": "enabled = false;\n",
    "override.d/worker-fuzzy.inc": "enabled = false;\n",
    "local.d/options.inc": `dns { nameserver = ["${options.dnsServer}"]; timeout = 1s; retransmits = 1; }\ndisable_hyperscan = true;\n`,
    "local.d/redis.conf": `servers = "127.0.0.1:${redisPort}";\n`,
    "override.d/logging.inc": `type = "file";\nfilename = "${join(dir, "log", "rspamd.log")}";\nlevel = "warning";\n`,
  };
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  ownedByRspamd(dir);

  const redis = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const args = ["-f", "-c", "/etc/rspamd/rspamd.conf", "--var", `LOCAL_CONFDIR=${dir}`, "--var", `DBDIR=${join(dir, "db")}`, "--var", `RUNDIR=${join(dir, "run")}`, "--var", `LOGDIR=${join(dir, "log")}`];
  if (process.getuid?.() === 0) args.push("-u", "_rspamd", "-g", "_rspamd");
  const rspamd: ChildProcess = spawn("rspamd", args, { stdio: "ignore", detached: true });
  const kill = () => {
    try {
      if (rspamd.pid) process.kill(-rspamd.pid, "SIGKILL");
    } catch {
      // already gone
    }
    redis.kill("SIGKILL");
  };
  process.once("exit", kill);

  const url = `http://127.0.0.1:${normal}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/ping`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || rspamd.exitCode !== null) {
      kill();
      throw new Error(`rspamd did not start (exit ${rspamd.exitCode}); its log is in ${dir}/log`);
    }
    await sleep(200);
  }
  return {
    url,
    async stop() {
      process.removeListener("exit", kill);
      kill();
      await sleep(100);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
