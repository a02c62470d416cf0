// Per-user \Seen on shared mailboxes (RFC 4314 §4 "s" right; Dovecot's private flags): a MailStore
// as one logged-in user sees it. On a mailbox of another account, every read that carries flags
// shows the user's own \Seen (store/acl-store.ts getPrivateSeen) in place of the mailbox's, and a
// flag change splits: \Seen goes to the user's rows (only with the "s" right, so an implicit \Seen
// of FETCH BODY[] without it is dropped, RFC 4314 §4), the other flags to the mailbox. The
// user's own mailboxes pass straight through, so a session that never opens a shared mailbox
// costs one owner lookup per mailbox it touches.
//
// Whatever reads flags goes through here (SELECT's index, FETCH, SEARCH, STATUS UNSEEN, the sync
// of changes for IDLE and CONDSTORE), which is why the session hands this view, not the store, to
// its commands.
import type { AccountId, DeliveredCopy, Flag, FlagUpdate, FlagUpdateResult, MailboxId, MailStore, MessageSummary, SelectionIndex, StagedAppend, Uid, UidMapping } from "../../store/index.js";
import { hasRights } from "../../store/index.js";
import { rightForFlag } from "./selected-rights.js";

const SEEN = "\\Seen";
/** selectionIndex flagBits: \Seen is the fourth system flag (SYSTEM_FLAGS order). */
const SEEN_BIT = 8;

const isSeen = (flag: Flag): boolean => flag.toLowerCase() === "\\seen";
const withSeen = (flags: readonly Flag[], seen: boolean): Flag[] => {
  const others = flags.filter((f) => !isSeen(f));
  if (!seen) return others;
  // \Seen in the place the store gives it (SYSTEM_FLAGS order: after \Deleted, before \Draft and keywords).
  const at = others.findIndex((f) => f.toLowerCase() === "\\draft" || !f.startsWith("\\"));
  return at < 0 ? [...others, SEEN as Flag] : [...others.slice(0, at), SEEN as Flag, ...others.slice(at)];
};

export function privateSeenView(store: MailStore, viewer: () => AccountId | null): MailStore {
  const owners = new Map<MailboxId, AccountId | null>();

  /** The viewer when the mailbox belongs to another account, else null (pass through). */
  async function sharedViewer(mailboxId: MailboxId): Promise<AccountId | null> {
    const user = viewer();
    if (user === null) return null;
    let owner = owners.get(mailboxId);
    if (owner === undefined) {
      owner = (await store.getMailboxById(mailboxId))?.accountId ?? null;
      // A mailbox that does not exist (yet) is not cached: the store answers for it.
      if (owner !== null) owners.set(mailboxId, owner);
    }
    return owner === null || owner === user ? null : user;
  }

  async function seenSet(mailboxId: MailboxId, user: AccountId, uids?: readonly Uid[]): Promise<Set<Uid>> {
    return new Set(await store.getPrivateSeen(mailboxId, user, uids));
  }

  async function rewrite<T extends { uid: Uid; flags: Flag[] }>(mailboxId: MailboxId, items: T[]): Promise<T[]> {
    const user = await sharedViewer(mailboxId);
    if (user === null || items.length === 0) return items;
    const seen = await seenSet(mailboxId, user, items.map((i) => i.uid));
    return items.map((item) => ({ ...item, flags: withSeen(item.flags, seen.has(item.uid)) }));
  }

  /** The viewer's \Seen, set or cleared, on a shared mailbox: only with the "s" right. */
  async function setPrivateSeen(mailboxId: MailboxId, user: AccountId, uids: readonly Uid[], seen: boolean): Promise<FlagUpdateResult> {
    if (uids.length === 0 || !hasRights(await store.rightsOf(mailboxId, user), "s")) return { updated: [], modified: [] };
    return store.updatePrivateSeen(mailboxId, user, uids, seen);
  }

  const overrides: Partial<MailStore> = {
    async selectionIndex(mailboxId) {
      const index = await store.selectionIndex(mailboxId);
      const user = await sharedViewer(mailboxId);
      if (user === null) return index;
      const seen = await seenSet(mailboxId, user);
      const flagBits = new Uint8Array(index.flagBits.length);
      let firstUnseen: Uid | null = null;
      for (let i = 0; i < index.uids.length; i++) {
        const uid = index.uids[i] as Uid;
        const mine = seen.has(uid);
        flagBits[i] = ((index.flagBits[i] as number) & ~SEEN_BIT) | (mine ? SEEN_BIT : 0);
        if (!mine && firstUnseen === null) firstUnseen = uid;
      }
      // keywordSets hold whole flag lists, the mailbox's \Seen with them: left out, so flags of
      // messages with keywords are read through getSummaries (rewritten) when needed.
      const rewritten: SelectionIndex = { mailbox: index.mailbox, uids: index.uids, flagBits, firstUnseen, keywords: index.keywords };
      return rewritten;
    },
    async listMessages(mailboxId) {
      return rewrite(mailboxId, await store.listMessages(mailboxId));
    },
    async getSummaries(mailboxId, uids) {
      return rewrite(mailboxId, await store.getSummaries(mailboxId, uids));
    },
    async getSummaryRange(mailboxId, first, last) {
      return rewrite(mailboxId, await store.getSummaryRange(mailboxId, first, last));
    },
    async getImapItems(mailboxId, uids, wanted) {
      return rewrite(mailboxId, await store.getImapItems(mailboxId, uids, wanted));
    },
    async getMessages(mailboxId, uids) {
      return rewrite(mailboxId, await store.getMessages(mailboxId, uids));
    },
    async changesSince(mailboxId, modseq) {
      const changes = await store.changesSince(mailboxId, modseq);
      return { ...changes, changed: await rewrite(mailboxId, changes.changed) };
    },
    async mailboxStatus(mailboxId) {
      const status = await store.mailboxStatus(mailboxId);
      const user = await sharedViewer(mailboxId);
      if (user === null) return status;
      return { ...status, unseen: status.messages - (await store.getPrivateSeen(mailboxId, user)).length };
    },
    async updateFlags(mailboxId, uids, update) {
      const user = await sharedViewer(mailboxId);
      if (user === null) return store.updateFlags(mailboxId, uids, update);
      return splitFlagUpdate(mailboxId, user, uids, update);
    },
    async append(mailboxId, source, options) {
      const user = await sharedViewer(mailboxId);
      const flags = options?.flags ?? [];
      if (user === null || !flags.some(isSeen)) return store.append(mailboxId, source, options);
      const copy = await store.append(mailboxId, source, { ...options, flags: flags.filter((f) => !isSeen(f)) });
      await setPrivateSeen(mailboxId, user, [copy.uid], true);
      return copy;
    },
    async appendStaged(mailboxId, messages, options) {
      const user = await sharedViewer(mailboxId);
      if (user === null || !messages.some((m) => m.flags?.some(isSeen) === true)) return store.appendStaged(mailboxId, messages, options);
      const stripped: StagedAppend[] = messages.map((m) => ({ ...m, flags: (m.flags ?? []).filter((f) => !isSeen(f)) }));
      const copies: DeliveredCopy[] = await store.appendStaged(mailboxId, stripped, options);
      const seen = copies.filter((_, i) => messages[i]?.flags?.some(isSeen) === true).map((c) => c.uid);
      await setPrivateSeen(mailboxId, user, seen, true);
      return copies;
    },
    async copyMessages(source, uids, target) {
      const seen = await viewerSeen(source, uids);
      const mapping = await store.copyMessages(source, uids, target);
      await carrySeen(seen, mapping, target);
      await dropUnsettableFlags(mapping, target);
      return mapping;
    },
    async moveMessages(source, uids, target) {
      const seen = await viewerSeen(source, uids);
      const mapping = await store.moveMessages(source, uids, target);
      await carrySeen(seen, mapping, target);
      await dropUnsettableFlags(mapping, target);
      return mapping;
    },
  };

  /**
   * STORE on a shared mailbox: \Seen to the viewer's rows, the rest to the mailbox. FLAGS (set)
   * keeps the mailbox's own \Seen: it is not the viewer's to change.
   */
  async function splitFlagUpdate(mailboxId: MailboxId, user: AccountId, wanted: readonly Uid[], update: FlagUpdate): Promise<FlagUpdateResult> {
    const others = update.flags.filter((f) => !isSeen(f));
    const seenNamed = update.flags.some(isSeen);
    // RFC 7162 §3.1.3 UNCHANGEDSINCE decided once for the whole STORE: the parts below each take
    // a modseq, so the later part must not see the earlier one's as a change by someone else.
    const before = await store.getSummaries(mailboxId, wanted);
    const refused = update.unchangedSince === undefined ? [] : before.filter((m) => m.modseq > update.unchangedSince!).map((m) => m.uid);
    const uids = before.filter((m) => !refused.includes(m.uid));
    const results: FlagUpdateResult[] = [{ updated: [], modified: refused }];
    const all = uids.map((m) => m.uid);
    if (update.mode === "set") {
      const ownerSeen = uids.filter((m) => m.flags.some(isSeen)).map((m) => m.uid);
      const ownerUnseen = uids.filter((m) => !m.flags.some(isSeen)).map((m) => m.uid);
      if (ownerSeen.length > 0) results.push(await store.updateFlags(mailboxId, ownerSeen, { mode: "set", flags: [SEEN as Flag, ...others] }));
      if (ownerUnseen.length > 0) results.push(await store.updateFlags(mailboxId, ownerUnseen, { mode: "set", flags: others }));
      results.push(await setPrivateSeen(mailboxId, user, all, seenNamed));
    } else {
      if (others.length > 0 && all.length > 0) results.push(await store.updateFlags(mailboxId, all, { mode: update.mode, flags: others }));
      if (seenNamed) results.push(await setPrivateSeen(mailboxId, user, all, update.mode === "add"));
    }
    return mergeResults(mailboxId, user, results);
  }

  /** One result per message (its last change), flags as the viewer sees them now. */
  async function mergeResults(mailboxId: MailboxId, user: AccountId, results: FlagUpdateResult[]): Promise<FlagUpdateResult> {
    const updated = new Map<Uid, { uid: Uid; modseq: FlagUpdateResult["updated"][number]["modseq"]; flags: Flag[] }>();
    const modified = new Set<Uid>();
    for (const result of results) {
      for (const u of result.updated) {
        const known = updated.get(u.uid);
        if (known === undefined || u.modseq >= known.modseq) updated.set(u.uid, u);
      }
      for (const uid of result.modified) modified.add(uid);
    }
    const list = [...updated.values()].sort((a, b) => a.uid - b.uid);
    const seen = await seenSet(mailboxId, user, list.map((u) => u.uid));
    return {
      updated: list.map((u) => ({ ...u, flags: withSeen(u.flags, seen.has(u.uid)) })),
      modified: [...modified].filter((uid) => !updated.has(uid)).sort((a, b) => a - b),
    };
  }

  /** The source messages the viewer sees as \Seen, when the source is shared (else null: flags travel as stored). */
  async function viewerSeen(source: MailboxId, uids: readonly Uid[]): Promise<Set<Uid> | null> {
    const user = await sharedViewer(source);
    return user === null ? null : seenSet(source, user, uids);
  }

  /** COPY/MOVE: the viewer's \Seen of the source goes with the copies. */
  async function carrySeen(sourceSeen: Set<Uid> | null, mapping: UidMapping, target: MailboxId): Promise<void> {
    const user = await sharedViewer(target);
    if (sourceSeen === null && user === null) return;
    let seen: Uid[];
    let unseen: Uid[];
    if (sourceSeen !== null) {
      seen = mapping.pairs.filter(([from]) => sourceSeen.has(from)).map(([, to]) => to);
      unseen = mapping.pairs.filter(([from]) => !sourceSeen.has(from)).map(([, to]) => to);
    } else {
      // From the viewer's own mailbox into a shared one: the stored \Seen is the viewer's.
      const copied = await store.getSummaries(target, mapping.pairs.map(([, to]) => to));
      seen = copied.filter((m: MessageSummary) => m.flags.some(isSeen)).map((m) => m.uid);
      unseen = [];
    }
    if (user === null) {
      // Into the viewer's own mailbox: the stored \Seen becomes the one the viewer had.
      if (seen.length > 0) await store.updateFlags(target, seen, { mode: "add", flags: [SEEN as Flag] });
      if (unseen.length > 0) await store.updateFlags(target, unseen, { mode: "remove", flags: [SEEN as Flag] });
    } else if (seen.length > 0) await setPrivateSeen(target, user, seen, true);
  }

  /**
   * COPY/MOVE into another account's mailbox: RFC 4314 §4, "only when the user has a particular
   * right are the corresponding flags stored", as for APPEND (commands/append.ts). The copies keep
   * \Deleted only with "t" and other flags and keywords only with "w"; the mailbox's own \Seen
   * (the owner's) is never the viewer's to set, theirs went to their rows with "s" (carrySeen).
   * The store copies flags as they are, so they are taken off right after, in a second write.
   */
  async function dropUnsettableFlags(mapping: UidMapping, target: MailboxId): Promise<void> {
    const user = await sharedViewer(target);
    if (user === null || mapping.pairs.length === 0) return;
    const rights = await store.rightsOf(target, user);
    const copies = mapping.pairs.map(([, to]) => to);
    const unsettable = new Map<string, Flag>();
    for (const copy of await store.getSummaries(target, copies)) {
      for (const flag of copy.flags) if (isSeen(flag) || !hasRights(rights, rightForFlag(flag))) unsettable.set(flag.toLowerCase(), flag);
    }
    if (unsettable.size > 0) await store.updateFlags(target, copies, { mode: "remove", flags: [...unsettable.values()] });
  }

  return new Proxy(store, {
    get(target, property) {
      if (typeof property === "string" && Object.hasOwn(overrides, property)) return overrides[property as keyof MailStore];
      // The store itself as receiver: its getters and private fields work on the real object.
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
