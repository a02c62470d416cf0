// Starting and stopping the server processes the bench owns: spawn with output to a log file,
// stop with SIGTERM and, after a grace period, SIGKILL to the whole tree that is still ours.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import { descendantsOf } from "../lib/process-rss.js";

export function spawnLogged(command: string, args: string[], logFile: string, options: SpawnOptions = {}): ChildProcess {
  const fd = openSync(logFile, "a");
  try {
    return spawn(command, args, { ...options, stdio: ["ignore", options.stdio === "pipe" ? "pipe" : fd, fd] });
  } finally {
    closeSync(fd);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM the root, wait up to `graceMs`, then SIGKILL whatever is left of its tree. */
export async function stopTree(rootPid: number, graceMs: number): Promise<void> {
  const tree = await descendantsOf([rootPid]);
  if (!isAlive(rootPid)) return;
  try { process.kill(rootPid, "SIGTERM"); } catch { /* already gone */ }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && isAlive(rootPid)) await new Promise((r) => setTimeout(r, 50));
  for (const pid of tree) if (isAlive(pid)) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
}

/** Runs a command to completion; throws with its output on a non-zero exit. */
export function runChecked(command: string, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): string {
  const result = spawnSync(command, args, { input: options.input, env: options.env ?? process.env, encoding: "utf8", timeout: options.timeoutMs ?? 120_000 });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${result.status}: ${(result.stderr || result.stdout).trim()}`);
  return result.stdout;
}
