// One owner per data dir (docs/architecture.md, "One owner per data dir"): the process that opens
// the store holds an exclusive lock on `<data_dir>/mailroom.lock`, taken before anything else
// touches the directory. `mailroom serve` holds it for its whole life; an admin command holds it
// only when no server runs (otherwise it talks to the server over the control socket).
//
// Why flock(2) through fs-ext: the kernel drops the lock when the holder dies, kill -9 included,
// so there is never a stale lock to clean up by hand and no PID-file guessing; Node has no flock
// of its own. The descriptor is opened close-on-exec (libuv always is), so a child process never
// inherits the lock. A POSIX fcntl lock (what SQLite uses) would also die with the process but
// is lost as soon as the process closes *any* descriptor of the same file, which a lock that
// must be held for days should not depend on.
//
// The holder writes its PID and role into the file, so a refused process can name it. The
// content is only a label: the flock is the truth, and a label left by a dead holder is ignored.
import { closeSync, constants, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { flockSync } from "fs-ext";

export const OWNER_LOCK_FILE = "mailroom.lock";

/** Who holds a data dir, as written in its lock file. */
export interface OwnerLabel {
  pid: number | null;
  /** "serve", or the admin command ("user add"). */
  role: string | null;
  since: string | null;
}

export interface OwnerLock {
  readonly dataDir: string;
  readonly path: string;
  /** Clears the label and releases the lock (the file stays: removing it would race a waiter). */
  release(): void;
}

/** The data dir is owned by another live process. */
export class DataDirBusyError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: OwnerLabel,
  ) {
    super(`the data directory ${dataDir} is in use by ${describeOwner(holder)}`);
    this.name = "DataDirBusyError";
  }
}

export function describeOwner(holder: OwnerLabel): string {
  const what = holder.role === null ? "another Mailroom process" : holder.role === "serve" ? "mailroom serve" : `mailroom ${holder.role}`;
  return holder.pid === null ? `${what} (pid unknown)` : `${what} (pid ${holder.pid})`;
}

/**
 * Takes the exclusive lock of an existing data dir without waiting, or throws DataDirBusyError
 * naming the holder. A refused call changes nothing in the directory: the lock file is opened
 * without truncation and only read (it is created only when missing, which means no one holds it).
 */
export function acquireOwnerLock(dataDir: string, role: string): OwnerLock {
  const path = join(dataDir, OWNER_LOCK_FILE);
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  try {
    flockSync(fd, "exnb");
  } catch (error) {
    const holder = readLabel(fd);
    closeSync(fd);
    if ((error as NodeJS.ErrnoException).code === "EAGAIN" || (error as NodeJS.ErrnoException).code === "EWOULDBLOCK") {
      throw new DataDirBusyError(dataDir, holder);
    }
    throw error;
  }
  const label: OwnerLabel = { pid: process.pid, role, since: new Date().toISOString() };
  ftruncateSync(fd, 0);
  writeSync(fd, JSON.stringify(label) + "\n", 0);
  let released = false;
  return {
    dataDir,
    path,
    release() {
      if (released) return;
      released = true;
      try {
        ftruncateSync(fd, 0);
      } finally {
        closeSync(fd);
      }
    },
  };
}

/**
 * The lock for `mailroom serve`: refused at once when another server holds it; when an admin
 * command holds it (it runs for seconds), waited for up to `waitForCommandMs`.
 */
export async function acquireServeLock(dataDir: string, waitForCommandMs: number): Promise<OwnerLock> {
  const deadline = Date.now() + waitForCommandMs;
  for (;;) {
    try {
      return acquireOwnerLock(dataDir, "serve");
    } catch (error) {
      const waitable = error instanceof DataDirBusyError && error.holder.role !== null && error.holder.role !== "serve";
      if (!waitable || Date.now() >= deadline) throw error;
    }
    await sleep(100);
  }
}

/** The label of the current holder, or nulls when the file is empty or unreadable. */
function readLabel(fd: number): OwnerLabel {
  const unknown: OwnerLabel = { pid: null, role: null, since: null };
  try {
    const buffer = Buffer.alloc(1024);
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    const parsed = JSON.parse(buffer.subarray(0, length).toString("utf8")) as Partial<Record<keyof OwnerLabel, unknown>>;
    return {
      pid: typeof parsed.pid === "number" && Number.isSafeInteger(parsed.pid) ? parsed.pid : null,
      role: typeof parsed.role === "string" ? parsed.role.slice(0, 100) : null,
      since: typeof parsed.since === "string" ? parsed.since.slice(0, 40) : null,
    };
  } catch {
    // Empty (the holder is between truncate and write, or released) or not ours: no name to give.
    return unknown;
  }
}
