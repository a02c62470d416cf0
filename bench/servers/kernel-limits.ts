// Dovecot's IDLE watches the mailbox with one inotify instance per imap process; the kernel's
// default fs.inotify.max_user_instances (128) is far below 10,000 connections, and Dovecot then
// falls back to polling every 30 s. Its documentation says to raise the limit on such servers, so
// for the peer's run the bench does, when it may (root), and puts the old value back afterwards.
import { readFile, writeFile } from "node:fs/promises";

const INOTIFY_INSTANCES = "/proc/sys/fs/inotify/max_user_instances";

export interface LimitChange {
  note: string;
  restore(): Promise<void>;
}

export async function raiseInotifyInstances(needed: number): Promise<LimitChange> {
  let current: number;
  try {
    current = Number((await readFile(INOTIFY_INSTANCES, "utf8")).trim());
  } catch {
    return { note: "fs.inotify.max_user_instances: unknown on this system", restore: async () => {} };
  }
  if (current >= needed) return { note: `fs.inotify.max_user_instances = ${current} (enough for Dovecot's IDLE, left as is)`, restore: async () => {} };
  try {
    await writeFile(INOTIFY_INSTANCES, String(needed));
  } catch {
    return {
      note: `fs.inotify.max_user_instances = ${current} and could not be raised: Dovecot's IDLE beyond ${current} processes polls every 30 s (run as root to raise it for the bench)`,
      restore: async () => {},
    };
  }
  return {
    note: `fs.inotify.max_user_instances raised from ${current} to ${needed} for the run (as Dovecot's documentation advises for many IDLE users), restored after`,
    restore: () => writeFile(INOTIFY_INSTANCES, String(current)).catch(() => {}),
  };
}
