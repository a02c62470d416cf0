// RFC 5465 NOTIFY: what one session asked to hear about, and the untagged responses it is owed.
// The session feeds it every committed change of the account (the change feed) and writes what
// drain() returns whenever it may: before a tagged reply, during IDLE, and between commands.
//
// Decisions of this module:
// - Mailboxes other than the selected one are reported with STATUS (§5.2-5.4): MessageNew as
//   MESSAGES UIDNEXT UIDVALIDITY, MessageExpunge as MESSAGES, FlagChange as UIDVALIDITY
//   HIGHESTMODSEQ; several changes of one mailbox between two writes make one STATUS with the
//   union of the items, read fresh from the store when written.
// - MailboxName is a LIST (§5.5: `\NonExistent` for a deleted mailbox, OLDNAME for a renamed one),
//   SubscriptionChange a LIST with or without `\Subscribed` (§5.6).
// - The first event group whose filter matches a mailbox decides its events (§6). The selected
//   mailbox is governed by a SELECTED / SELECTED-DELAYED group only; its changes are the usual
//   EXISTS / EXPUNGE / FETCH of the session (selected-mailbox.ts), sent between commands too,
//   expunges only with SELECTED (SELECTED-DELAYED keeps RFC 9051 §7.4.1's rule).
// - MailboxMetadataChange and ServerMetadataChange are RFC 5464 §4.4.2's unsolicited METADATA
//   (`* METADATA "Lists" /shared/comment`, `""` for the server), the entries' names only; a
//   server event is reported when any group asks for it (it belongs to no mailbox).
// - AnnotationChange (RFC 5257 message annotations, not implemented) is answered NO [BADEVENT]
//   listing what is reported (§3).
// - Pending STATUS is kept per mailbox (one entry each), LIST responses up to MAX_PENDING_LISTS;
//   past that the rest is dropped and `* OK [NOTIFICATIONOVERFLOW]` sent, after which NOTIFY is
//   off (§5.8), so a client that never reads cannot grow the session's memory.
import type { AccountId, ChangeBatch, MailboxId, MailStore } from "../../store/index.js";
import type { EventGroup, MailboxFilter, NotifyEvent, NotifyRequest } from "../protocol/notify.js";
import { atom, list, num, str, type ImapValue } from "../protocol/response-value.js";

export const SUPPORTED_EVENTS: readonly NotifyEvent[] = ["MessageNew", "MessageExpunge", "FlagChange", "MailboxName", "SubscriptionChange", "MailboxMetadataChange", "ServerMetadataChange"];
const MAX_PENDING_LISTS = 1000;

type StatusItem = "MESSAGES" | "UIDNEXT" | "UIDVALIDITY" | "HIGHESTMODSEQ";
/** A LIST notification, rendered when written (names in the client's encoding). */
interface PendingList {
  readonly attributes: readonly string[];
  readonly name: string;
  readonly oldName?: string;
}

const ITEM_ORDER: readonly StatusItem[] = ["MESSAGES", "UIDNEXT", "UIDVALIDITY", "HIGHESTMODSEQ"];

function itemsFor(event: NotifyEvent): StatusItem[] {
  if (event === "MessageNew") return ["MESSAGES", "UIDNEXT", "UIDVALIDITY"];
  if (event === "MessageExpunge") return ["MESSAGES"];
  if (event === "FlagChange") return ["UIDVALIDITY", "HIGHESTMODSEQ"];
  return [];
}

export interface NotifyContext {
  readonly store: MailStore;
  readonly accountId: AccountId;
  /** The wire form of a mailbox name for this client. */
  encode(name: string): string;
}

export class NotifyState {
  private groups: readonly EventGroup[] = [];
  private readonly names = new Map<MailboxId, string>();
  private subscribed = new Set<string>();
  private readonly status = new Map<MailboxId, Set<StatusItem>>();
  private lists: PendingList[] = [];
  private overflowed = false;
  /** METADATA entries changed, per mailbox (null: the server). */
  private readonly metadata = new Map<MailboxId | null, Set<string>>();
  private metadataCount = 0;

  get active(): boolean {
    return this.groups.length > 0;
  }

  /** The SELECTED or SELECTED-DELAYED group, if any. */
  get selectedGroup(): EventGroup | null {
    return this.groups.find((g) => g.filter.kind === "selected" || g.filter.kind === "selected-delayed") ?? null;
  }

  get pending(): boolean {
    return this.status.size > 0 || this.lists.length > 0 || this.metadata.size > 0 || this.overflowed;
  }

  /** Forgets everything (NOTIFY NONE without a store): for a session whose account goes away (RFC 8437 UNAUTHENTICATE). */
  reset(): void {
    this.groups = [];
    this.status.clear();
    this.lists = [];
    this.metadata.clear();
    this.metadataCount = 0;
    this.overflowed = false;
    this.names.clear();
    this.subscribed.clear();
  }

  /** NOTIFY SET / NONE. Returns the STATUS responses SET STATUS asks for (§3), to be sent now. */
  async set(request: NotifyRequest, ctx: NotifyContext, selectedId: MailboxId | null): Promise<ImapValue[][]> {
    this.status.clear();
    this.lists = [];
    this.metadata.clear();
    this.metadataCount = 0;
    this.overflowed = false;
    this.names.clear();
    if (request.kind === "none") {
      this.groups = [];
      return [];
    }
    this.groups = request.groups;
    for (const mailbox of await ctx.store.listMailboxes(ctx.accountId)) this.names.set(mailbox.id, mailbox.name);
    this.subscribed = new Set(await ctx.store.listSubscriptions(ctx.accountId));
    if (!request.status) return [];
    for (const [id, name] of this.names) {
      if (id === selectedId && this.selectedGroup !== null) continue;
      const events = this.eventsFor(name, false);
      const items = new Set(events.flatMap(itemsFor));
      if (items.size > 0) this.status.set(id, items);
    }
    return this.drain(ctx);
  }

  /** The events the groups ask for on a mailbox (by name), as the first matching group says. */
  private eventsFor(name: string, selected: boolean): readonly NotifyEvent[] {
    for (const group of this.groups) {
      if (matches(group.filter, name, selected, this.subscribed)) return group.events;
    }
    return [];
  }

  /** A committed batch of the account's changes (change feed). */
  onBatch(batch: ChangeBatch, selectedId: MailboxId | null): void {
    if (!this.active) return;
    for (const change of batch.changes) {
      switch (change.kind) {
        case "added":
        case "expunged":
        case "flags": {
          // The selected mailbox's changes are its EXISTS / EXPUNGE / FETCH (selected-mailbox.ts).
          if (change.mailboxId === selectedId) break;
          const name = this.names.get(change.mailboxId);
          if (name === undefined) break;
          const event: NotifyEvent = change.kind === "added" ? "MessageNew" : change.kind === "expunged" ? "MessageExpunge" : "FlagChange";
          if (!this.eventsFor(name, false).includes(event)) break;
          const items = this.status.get(change.mailboxId) ?? new Set<StatusItem>();
          for (const item of itemsFor(event)) items.add(item);
          this.status.set(change.mailboxId, items);
          break;
        }
        case "mailbox-created":
          this.names.set(change.mailboxId, change.name);
          if (this.eventsFor(change.name, false).includes("MailboxName")) this.queueList({ attributes: [], name: change.name });
          break;
        case "mailbox-renamed":
          this.names.set(change.mailboxId, change.name);
          if (this.eventsFor(change.name, false).includes("MailboxName") || this.eventsFor(change.oldName, false).includes("MailboxName")) {
            this.queueList({ attributes: [], name: change.name, oldName: change.oldName });
          }
          break;
        case "mailbox-deleted":
          this.names.delete(change.mailboxId);
          this.status.delete(change.mailboxId);
          if (this.eventsFor(change.name, false).includes("MailboxName")) this.queueList({ attributes: ["\\NonExistent"], name: change.name });
          break;
        case "metadata": {
          let wanted: boolean;
          if (change.mailboxId === null) wanted = this.groups.some((g) => g.events.includes("ServerMetadataChange"));
          else {
            const name = this.names.get(change.mailboxId);
            const selected = change.mailboxId === selectedId && this.selectedGroup !== null;
            wanted = name !== undefined && (selected ? this.selectedGroup!.events : this.eventsFor(name, false)).includes("MailboxMetadataChange");
          }
          if (!wanted || this.overflowed) break;
          const names = this.metadata.get(change.mailboxId) ?? new Set<string>();
          if (!names.has(change.name)) {
            if (++this.metadataCount > MAX_PENDING_LISTS) {
              this.overflowed = true;
              break;
            }
            names.add(change.name);
          }
          this.metadata.set(change.mailboxId, names);
          break;
        }
        case "subscription":
          if (change.subscribed) this.subscribed.add(change.name);
          else this.subscribed.delete(change.name);
          if (this.eventsFor(change.name, false).includes("SubscriptionChange")) this.queueList({ attributes: change.subscribed ? ["\\Subscribed"] : [], name: change.name });
          break;
      }
    }
  }

  private queueList(response: PendingList): void {
    if (this.overflowed) return;
    if (this.lists.length >= MAX_PENDING_LISTS) {
      this.overflowed = true;
      return;
    }
    this.lists.push(response);
  }

  /** The responses owed now, STATUS read fresh; empties the queue. */
  async drain(ctx: NotifyContext): Promise<ImapValue[][]> {
    const out: ImapValue[][] = [];
    const status = [...this.status];
    this.status.clear();
    for (const [id, items] of status) {
      const name = this.names.get(id);
      if (name === undefined) continue;
      let current;
      try {
        current = await ctx.store.mailboxStatus(id);
      } catch {
        continue; // deleted meanwhile: its LIST (\NonExistent) says so
      }
      const values: ImapValue[] = [];
      for (const item of ITEM_ORDER) {
        if (!items.has(item)) continue;
        const value = item === "MESSAGES" ? current.messages : item === "UIDNEXT" ? current.uidNext : item === "UIDVALIDITY" ? current.uidValidity : current.highestModSeq;
        values.push(atom(item), num(value));
      }
      out.push([atom("STATUS"), str(ctx.encode(name)), list(values)]);
    }
    for (const entry of this.lists) {
      const response = [atom("LIST"), list(entry.attributes.map((a) => atom(a))), str("/"), str(ctx.encode(entry.name))];
      if (entry.oldName !== undefined) response.push(list([str("OLDNAME"), list([str(ctx.encode(entry.oldName))])]));
      out.push(response);
    }
    this.lists = [];
    for (const [id, entries] of this.metadata) {
      const mailbox = id === null ? "" : this.names.get(id);
      if (mailbox === undefined) continue;
      // RFC 5464 §4.4.2: the unsolicited form names the entries (entry-list), without values.
      out.push([atom("METADATA"), str(mailbox === "" ? "" : ctx.encode(mailbox)), ...[...entries].sort().map((e) => atom(e))]);
    }
    this.metadata.clear();
    this.metadataCount = 0;
    if (this.overflowed) {
      // RFC 5465 §5.8: the client has to find out the state itself; notifications stop.
      out.push([atom("OK"), atom("[NOTIFICATIONOVERFLOW]"), atom("too many notifications; NOTIFY is off")]);
      this.overflowed = false;
      this.groups = [];
    }
    return out;
  }
}

export function matches(filter: MailboxFilter, name: string, selected: boolean, subscribed: ReadonlySet<string>): boolean {
  switch (filter.kind) {
    case "selected":
    case "selected-delayed":
      return selected;
    case "inboxes":
      return name === "INBOX";
    case "personal":
      return true;
    case "subscribed":
      return subscribed.has(name);
    case "subtree":
      return filter.names.some((n) => name === n || name.startsWith(`${n}/`));
    case "mailboxes":
      return filter.names.includes(name);
  }
}
