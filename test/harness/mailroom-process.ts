// Runs the real `mailroom` command (bin/mailroom.js) as a child process, as an operator would:
// for CLI scenarios and for starting and stopping the whole server.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findRepositoryRoot } from "./fixtures.js";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function mailroomBin(): string {
  return join(findRepositoryRoot(import.meta.url), "bin", "mailroom.js");
}

/** Runs one CLI command to completion; `input` is written to its standard input. */
export function runMailroom(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [mailroomBin(), ...args], { env: { ...process.env, ...options.env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** One [[listeners]] entry of a test config, always on 127.0.0.1; port 0 (the default) takes a free port. */
export interface TestListener {
  protocol: string;
  port?: number;
  /** The listener's `tls` key, left out when not given. */
  tls?: string;
}

/**
 * The TOML config most `mailroom serve` tests start from: cheap argon2 settings (the production
 * defaults are checked in config tests) and the given listeners on loopback. Each option adds the
 * keys a test needs; nothing else is set, so every test still says what it relies on.
 */
export function serveConfig(options: {
  listeners: TestListener[];
  /** server.hostname; null leaves it out (and the [server] table, unless `server` has lines). */
  hostname?: string | null;
  /** More lines of the [server] table. */
  server?: string;
  /** More lines of the [auth] table. */
  auth?: string;
  /** Sets tls.allow_plaintext_auth_on_loopback = true, for tests that log in without TLS. */
  plaintextAuthOnLoopback?: boolean;
  /** Further tables, placed before the listeners. */
  extra?: string;
}): string {
  const lines: string[] = [];
  const hostname = options.hostname === undefined ? "mx.example.org" : options.hostname;
  if (hostname !== null || options.server) lines.push("[server]");
  if (hostname !== null) lines.push(`hostname = "${hostname}"`);
  if (options.server) lines.push(options.server.trim());
  lines.push("[auth]", "argon2_memory_kib = 1024", "argon2_time_cost = 1");
  if (options.auth) lines.push(options.auth.trim());
  if (options.plaintextAuthOnLoopback) lines.push("[tls]", "allow_plaintext_auth_on_loopback = true");
  if (options.extra) lines.push(options.extra.trim());
  // HTTP on free loopback ports unless the test configures [http]: tests run as root and must not take 80/443.
  if (!options.extra?.includes("[http]")) lines.push("[http]", "http_port = 0", "https_port = 0", 'address = "127.0.0.1"');
  for (const listener of options.listeners) {
    lines.push("[[listeners]]", `protocol = "${listener.protocol}"`, 'address = "127.0.0.1"', `port = ${listener.port ?? 0}`);
    if (listener.tls !== undefined) lines.push(`tls = "${listener.tls}"`);
  }
  return lines.join("\n") + "\n";
}

/** The port a loopback listener of `protocol` got, read from the start banner of `mailroom serve`. */
export function listenerPort(banner: string, protocol: string): number {
  const match = new RegExp(`^\\s+${protocol}\\s+127\\.0\\.0\\.1:(\\d+)`, "m").exec(banner);
  assert.ok(match, `no ${protocol} listener in the banner:\n${banner}`);
  return Number(match[1]);
}

/** A scratch directory with a data dir and a config file whose listeners use free loopback ports. */
export async function makeScratch(configToml = ""): Promise<{ dir: string; dataDir: string; configFile: string; env: NodeJS.ProcessEnv; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-e2e-"));
  // Started as root (as tests run here and in CI), serve drops to server.user, which must be able
  // to reach the data directory inside (mkdtemp makes the directory root's 0700).
  await chmod(dir, 0o755);
  const dataDir = join(dir, "data");
  const configFile = join(dir, "mailroom.toml");
  await writeFile(configFile, configToml);
  return {
    dir,
    dataDir,
    configFile,
    // Cheap hashes keep CLI tests fast; the production defaults are checked in config tests.
    env: { MAILROOM_CONFIG: configFile, MAILROOM_DATA_DIR: dataDir },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Starts `mailroom serve`, resolving once the banner's last line has been printed. */
export async function startServeProcess(
  env: NodeJS.ProcessEnv,
  /** The script and arguments node runs; `scripts/start.mjs` is what `npm start` runs. */
  command: string[] = [mailroomBin(), "serve"],
): Promise<{ child: ChildProcess; banner: string; logs: () => string; stop(signal?: NodeJS.Signals): Promise<number | null> }> {
  const child = spawn(process.execPath, command, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const banner = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner within 30 s; stderr: ${stderr}`)), 30_000);
    child.stdout!.on("data", (c: Buffer) => {
      stdout += c.toString();
      if (/^(Next:|Domains:)/m.test(stdout) && stdout.endsWith("\n")) {
        clearTimeout(timer);
        resolve(stdout);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`mailroom serve exited with ${code} before its banner; stderr: ${stderr}`));
    });
  });
  return {
    child,
    banner,
    logs: () => stderr,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
