// The few filesystem steps that make a rename or an unlink survive power loss, and the seam they
// go through. On POSIX a file's data is made durable by fsync(file), but its *name* lives in the
// parent directory, so a new entry (rename, mkdir) or a removed one is only durable once that
// directory is fsynced too.
//
// Every step of the blob directory that changes the disk (or asks whether a file exists) goes
// through a FileLayer. Production uses nodeFileLayer; tests wrap it to record what was fsynced
// and rebuild the disk as a power cut would leave it (power-loss.test.ts), or to fail writes with
// ENOSPC. Reads of blob bodies do not go through it: they change nothing.
import { mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";

/** A file opened for writing. */
export interface WritableFile {
  write(buffer: Buffer, offset: number, length: number): Promise<number>;
  /** fsync: the file's data and size are durable once this resolves. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface FileLayer {
  /** Creates a new file (fails with EEXIST when one is there) for writing. */
  createExclusive(path: string): Promise<WritableFile>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** mkdir -p; the first directory it created, or undefined when all existed (as fs.mkdir recursive). */
  mkdirs(path: string): Promise<string | undefined>;
  readdir(path: string): Promise<string[]>;
  stat(path: string): Promise<{ size: number; mtimeMs: number }>;
  /** fsync a directory so the entries created or removed in it survive a crash. */
  fsyncDirectory(path: string): Promise<void>;
  /** fsync a file written and closed earlier (a deferred blob, BlobDirectory.settle). */
  fsyncFile(path: string): Promise<void>;
}

export const nodeFileLayer: FileLayer = {
  async createExclusive(path) {
    const handle = await open(path, "wx");
    return {
      write: async (buffer, offset, length) => (await handle.write(buffer, offset, length)).bytesWritten,
      sync: () => handle.sync(),
      close: () => handle.close(),
    };
  },
  rename: (from, to) => rename(from, to),
  unlink: (path) => unlink(path),
  mkdirs: (path) => mkdir(path, { recursive: true }),
  readdir: (path) => readdir(path),
  stat: async (path) => {
    const found = await stat(path);
    return { size: found.size, mtimeMs: found.mtimeMs };
  },
  async fsyncDirectory(path) {
    const handle = await open(path, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  // Linux (and POSIX) fsync flushes the file's data whatever the descriptor's access mode.
  fsyncFile(path) {
    return nodeFileLayer.fsyncDirectory(path);
  },
};

/** fsync a directory through the default layer. */
export function fsyncDirectory(path: string, files: FileLayer = nodeFileLayer): Promise<void> {
  return files.fsyncDirectory(path);
}

/**
 * Creates `path` with its missing ancestors and makes every new entry durable: each directory
 * that was created is fsynced, and so is the existing parent that holds the first new name.
 */
export async function makeDirectoryDurable(path: string, files: FileLayer = nodeFileLayer): Promise<void> {
  const firstCreated = await files.mkdirs(path);
  if (firstCreated === undefined) return;
  const stop = dirname(firstCreated);
  const chain: string[] = [];
  for (let dir = path; dir !== stop && dir !== dirname(dir); dir = dirname(dir)) chain.push(dir);
  chain.push(stop);
  for (const dir of chain.reverse()) await files.fsyncDirectory(dir);
}

/** unlink that treats "already gone" as success: the collector and a repair may meet. */
export async function unlinkIfPresent(path: string, files: FileLayer = nodeFileLayer): Promise<boolean> {
  try {
    await files.unlink(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/** Disk full or a filesystem quota reached: the errno codes a store reports as NOSPACE. */
export function isNoSpaceError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}
