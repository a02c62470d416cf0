// DKIM for outbound mail (RFC 6376): the sender domain's active keys (made by `mailroom domain add`
// or `mailroom dkim rotate`) sign each message as it leaves, relaxed/relaxed, Ed25519 and RSA.
// The d= domain is the MAIL FROM domain: submission only accepts a MAIL FROM and From: the user
// owns, so it aligns with From: for DMARC (RFC 7489 §3.1.1). Keys are read per message, so a
// rotation takes effect without a restart. A copy re-encoded for a receiver without 8BITMIME is
// signed over its own bytes (`open`), so the signature covers exactly what is sent.
import type { Readable } from "node:stream";
import { loadDkimKeys, signWithKeys } from "../mail-auth/index.js";
import type { QueuedMessage, QueueStore } from "../store/index.js";

export function createDkimSigner(keyDir: string, queue: Pick<QueueStore, "openQueued">, clock: () => Date = () => new Date()): (entry: QueuedMessage, open?: () => Readable) => Promise<Buffer> {
  return async (entry, open) => {
    if (entry.mailFrom === "") return Buffer.alloc(0);
    const domain = entry.mailFrom.slice(entry.mailFrom.lastIndexOf("@") + 1);
    let keys;
    try {
      keys = await loadDkimKeys(keyDir, domain);
    } catch (error) {
      if (error instanceof RangeError) return Buffer.alloc(0);
      throw error;
    }
    if (keys === null || keys.keys.length === 0) return Buffer.alloc(0);
    return Buffer.from(await signWithKeys(open ?? (() => queue.openQueued(entry)), keys, clock()), "utf8");
  };
}
