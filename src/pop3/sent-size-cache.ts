// Octet counts as RETR sends them (protocol/sent-octets.ts), remembered per message. A stored
// message never changes while its mailbox keeps its UIDVALIDITY, so (mailbox, uidvalidity, uid) is
// a permanent key: each message is read to be counted at most once per process while it stays in
// the cache. Bounded: the oldest entries go first.
//
// Why not the stored size: it counts the bytes as stored, and a message appended with bare LF line
// ends is longer once RETR has turned them into CRLF. The store counts this at delivery
// (MailStore.getCrlfSizes); only messages stored before it did are read, and this cache bounds that.
import type { MailboxId, Uid, UidValidity } from "../store/index.js";

export class SentSizeCache {
  readonly #sizes = new Map<string, number>();
  readonly #maxEntries: number;

  constructor(maxEntries = 200_000) {
    this.#maxEntries = maxEntries;
  }

  get(mailboxId: MailboxId, uidValidity: UidValidity, uid: Uid): number | undefined {
    return this.#sizes.get(key(mailboxId, uidValidity, uid));
  }

  set(mailboxId: MailboxId, uidValidity: UidValidity, uid: Uid, octets: number): void {
    this.#sizes.set(key(mailboxId, uidValidity, uid), octets);
    if (this.#sizes.size > this.#maxEntries) {
      const oldest = this.#sizes.keys().next();
      if (!oldest.done) this.#sizes.delete(oldest.value);
    }
  }

  get size(): number {
    return this.#sizes.size;
  }
}

function key(mailboxId: MailboxId, uidValidity: UidValidity, uid: Uid): string {
  return `${mailboxId}:${uidValidity}:${uid}`;
}
