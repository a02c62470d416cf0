// How an admin command reaches the store (docs/architecture.md, "One owner per data dir"):
//   1. a server answers on <data_dir>/mailroom.sock: the operations run inside it;
//   2. else the command takes the owner lock itself and runs in its own process (no server can
//      start meanwhile, so nothing else writes the store);
//   3. else the lock is held by someone who does not answer: wait a little (a server starting
//      or stopping, another admin command finishing), then fail naming the holder's PID.
// A command never creates a store unless asked (--init): a mistyped --data-dir or a command run
// in the wrong directory must not quietly start a second, empty one.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connectControl, type ControlClient } from "../admin/control/client.js";
import { CONTROL_SOCKET_FILE } from "../admin/control/protocol.js";
import { remoteOperations } from "../admin/control/remote-operations.js";
import { AdminError, type AdminOperations } from "../admin/operations/index.js";
import type { Config } from "../config/index.js";
import type { Logger } from "../observability/log.js";
import { createAdmin, openStore, STORE_MARKER_FILE } from "./compose.js";
import { acquireOwnerLock, DataDirBusyError, describeOwner, type OwnerLock } from "./owner-lock.js";

export interface AdminAccess {
  operations: AdminOperations;
  /** Where the operations run. */
  via: "server" | "in-process";
  close(): Promise<void>;
}

export interface AdminAccessOptions {
  /** The command, as the lock label shows it to others ("user add"). */
  command: string;
  /** Create a new store when none is there. */
  init: boolean;
  /** Where the data dir came from, for the message when there is no store. */
  dataDirSource: string;
  /** How long to wait for a busy data dir (a server starting, another command) before failing. */
  waitMs?: number;
}

export async function openAdminAccess(config: Config, log: Logger, options: AdminAccessOptions): Promise<AdminAccess> {
  const dataDir = config.server.dataDir;
  const socketPath = join(dataDir, CONTROL_SOCKET_FILE);
  const deadline = Date.now() + (options.waitMs ?? 10_000);
  // The PostgreSQL backend's store is the database, never a file here.
  if (config.store.backend === "sqlite" && !existsSync(join(dataDir, STORE_MARKER_FILE)) && !options.init) {
    // A server starting on an empty data dir may not have created its store yet: ask it first.
    const client = await connectControl(socketPath);
    if (client) return remote(client);
    throw new AdminError(
      "not-found",
      `no Mailroom store in ${dataDir} (the data dir from ${options.dataDirSource}). ` +
        "Run this command with the --config/--data-dir that the server uses (its start banner prints the exact command), or pass --init to create a new, empty store there.",
    );
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  for (;;) {
    const client = await connectControl(socketPath);
    if (client) return remote(client);
    let busy: DataDirBusyError;
    try {
      return await inProcess(config, log, acquireOwnerLock(dataDir, options.command));
    } catch (error) {
      if (!(error instanceof DataDirBusyError)) throw error;
      busy = error;
    }
    if (Date.now() >= deadline) {
      const holder = describeOwner(busy.holder);
      throw new AdminError(
        "refused",
        busy.holder.role === "serve"
          ? `the data directory ${dataDir} is owned by ${holder}, which does not answer on its control socket ${socketPath}; is it stuck? (stop it, or try again)`
          : `the data directory ${dataDir} is in use by ${holder}; try again when it has finished`,
      );
    }
    await sleep(100);
  }
}

function remote(client: ControlClient): AdminAccess {
  return {
    operations: remoteOperations(client),
    via: "server",
    close: async () => client.close(),
  };
}

async function inProcess(config: Config, log: Logger, lock: OwnerLock): Promise<AdminAccess> {
  try {
    const store = await openStore(config, log);
    return {
      operations: createAdmin(config, store),
      via: "in-process",
      async close() {
        try {
          await store.close();
        } finally {
          lock.release();
        }
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}

/** `mailroom status`: only a running server can answer. */
export async function askServerStatus(config: Config, reset: boolean): Promise<unknown> {
  const socketPath = join(config.server.dataDir, CONTROL_SOCKET_FILE);
  const client = await connectControl(socketPath);
  if (client === null) throw new AdminError("not-found", `no server is running on ${config.server.dataDir} (nothing answers on ${socketPath})`);
  try {
    return await client.call("server.status", reset ? ["reset"] : []);
  } finally {
    client.close();
  }
}
