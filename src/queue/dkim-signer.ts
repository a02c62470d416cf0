// DKIM for outbound mail (RFC 6376): the sender domain's active keys (made by `mailroom domain add`
// or `mailroom dkim rotate`) sign each message as it leaves, relaxed/relaxed, Ed25519 and RSA.
// The d= domain is the MAIL FROM domain: submission only accepts a MAIL FROM and From: the user
// owns, so it aligns with From: for DMARC (RFC 7489 §3.1.1). A copy re-encoded for a receiver
// without 8BITMIME is signed over its own bytes (`open`), so the signature covers exactly what is
// sent.
//
// Cost: both signatures are made in one pass over the message (sign-outbound.ts), and a domain's
// keys are read from disk once, then kept while its active.json is the same file: one stat per
// message instead of three reads. Rotation and `domain add` replace active.json by rename (after
// writing the new keys), which changes its inode and mtime, so a rotation still takes effect
// without a restart.
//
// With the keys in the shared store (PostgreSQL, store/node-state-store.ts) there is no file to
// stat: a domain's keys are kept for SHARED_KEYS_TTL_MS, so a rotation made on any node signs on
// every node within that time, for one query per domain per interval.
import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { loadDkimKeys, type DkimKeyLocation, type DkimKeySet } from "../mail-auth/index.js";
import { signOutboundWithKeys } from "../mail-auth/sign-outbound.js";
import type { QueuedMessage, QueueStore } from "../store/index.js";

interface CachedKeys {
  /** Inode, size and mtime of active.json when the keys were read; shared store: when they expire (epoch ms). */
  identity: string;
  keys: DkimKeySet | null;
}

const PLAIN_DOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
/** Sender domains are few; the bound only guards against a flood of made-up ones. */
const CACHE_MAX = 10_000;
/** How long keys read from the shared store are used before they are read again. */
export const SHARED_KEYS_TTL_MS = 10_000;

export function createDkimSigner(location: DkimKeyLocation, queue: Pick<QueueStore, "openQueued">, clock: () => Date = () => new Date()): (entry: QueuedMessage, open?: () => Readable) => Promise<Buffer> {
  const cache = new Map<string, CachedKeys>();

  async function keysOf(domain: string): Promise<DkimKeySet | null> {
    // loadDkimKeys refuses such names too (RangeError); checked first so stat never sees "..".
    if (!PLAIN_DOMAIN.test(domain)) return null;
    if (typeof location !== "string") return sharedKeysOf(location, domain);
    const keyDir = location;
    let identity: string;
    try {
      const info = await stat(join(keyDir, domain, "active.json"), { bigint: true });
      identity = `${info.ino}:${info.size}:${info.mtimeNs}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") {
        cache.delete(domain);
        return null;
      }
      throw error;
    }
    const cached = cache.get(domain);
    if (cached?.identity === identity) return cached.keys;
    let keys: DkimKeySet | null;
    try {
      keys = await loadDkimKeys(keyDir, domain);
    } catch (error) {
      if (error instanceof RangeError) return null;
      throw error;
    }
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(domain, { identity, keys });
    return keys;
  }

  async function sharedKeysOf(store: Exclude<DkimKeyLocation, string>, domain: string): Promise<DkimKeySet | null> {
    const now = Date.now();
    const cached = cache.get(domain);
    if (cached !== undefined && Number(cached.identity) > now) return cached.keys;
    const keys = await loadDkimKeys(store, domain);
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(domain, { identity: String(now + SHARED_KEYS_TTL_MS), keys });
    return keys;
  }

  return async (entry, open) => {
    if (entry.mailFrom === "") return Buffer.alloc(0);
    const domain = entry.mailFrom.slice(entry.mailFrom.lastIndexOf("@") + 1).toLowerCase();
    const keys = await keysOf(domain);
    if (keys === null || keys.keys.length === 0) return Buffer.alloc(0);
    const message = (open ?? (() => queue.openQueued(entry)))();
    return Buffer.from(await signOutboundWithKeys(message, keys.domain, keys.keys, clock()), "utf8");
  };
}
