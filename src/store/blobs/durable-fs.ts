// The few filesystem steps that make a rename or an unlink survive power loss. On POSIX a file's
// data is made durable by fsync(file), but its *name* lives in the parent directory, so a new
// entry (rename, mkdir) or a removed one is only durable once that directory is fsynced too.
import { mkdir, open, unlink } from "node:fs/promises";
import { dirname } from "node:path";

/** fsync a directory so the entries created or removed in it survive a crash. */
export async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Creates `path` with its missing ancestors and makes every new entry durable: each directory
 * that was created is fsynced, and so is the existing parent that holds the first new name.
 */
export async function makeDirectoryDurable(path: string): Promise<void> {
  const firstCreated = await mkdir(path, { recursive: true });
  if (firstCreated === undefined) return;
  const stop = dirname(firstCreated);
  const chain: string[] = [];
  for (let dir = path; dir !== stop && dir !== dirname(dir); dir = dirname(dir)) chain.push(dir);
  chain.push(stop);
  for (const dir of chain.reverse()) await fsyncDirectory(dir);
}

/** unlink that treats "already gone" as success: garbage collection may race with a sweep. */
export async function unlinkIfPresent(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}
