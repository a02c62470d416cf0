// RFC 5464 METADATA and METADATA-SERVER: GETMETADATA and SETMETADATA on the logged-in account's
// mailboxes and on the server (mailbox ""). Grammar in protocol/metadata.ts; entries kept by the
// store (store/metadata-store.ts), which also enforces the count and size limits atomically.
//
// Decisions of this module:
// - Server entries are /private only (per user). /shared server entries would be one value for
//   every user of the server, which no IMAP user may set: SETMETADATA refuses them (NO [NOPERM])
//   and GETMETADATA finds none.
// - /private/specialuse (RFC 6154 §5) is computed from the mailbox's SPECIAL-USE attribute, read
//   only: a client learns special use through either interface, and cannot make them disagree.
// - A requested entry that does not exist is answered NIL with DEPTH 0 (as Dovecot does), so a
//   client can tell "asked and absent" from "not asked"; with DEPTH 1 or infinity only entries
//   that exist are listed.
// - Limits ([imap] metadata_max_entry_size, metadata_max_entries, metadata_max_account_size):
//   a larger value is NO [METADATA MAXSIZE n]; more entries on one mailbox, or more octets of
//   names and values for one account, is NO [METADATA TOOMANY] (RFC 5464 §4.3) with nothing set.
import type { Mailbox, MetadataEntry } from "../../store/index.js";
import { readGetMetadata, readSetMetadata, type GetMetadataRequest, type MetadataDepth, type SetMetadataRequest } from "../protocol/metadata.js";
import { atom, list, NIL, str, type ImapValue } from "../protocol/response-value.js";
import { ImapError, type CommandContext, type ImapCommand } from "./command.js";

export interface ImapMetadataLimits {
  /** Octets of one value (config imap.metadata_max_entry_size). */
  readonly maxEntrySize: number;
  /** Entries on one mailbox, or one user's server entries (imap.metadata_max_entries). */
  readonly maxEntriesPerMailbox: number;
  /** Octets of names and values per account (imap.metadata_max_account_size). */
  readonly maxAccountBytes: number;
}

export const DEFAULT_METADATA_LIMITS: ImapMetadataLimits = { maxEntrySize: 64 * 1024, maxEntriesPerMailbox: 100, maxAccountBytes: 1024 * 1024 };

const SPECIAL_USE_ENTRY = "/private/specialuse";

type MetadataArgs = { kind: "get"; request: GetMetadataRequest } | { kind: "set"; request: SetMetadataRequest };

const utf8Names = (enabled: ReadonlySet<string>): boolean => enabled.has("IMAP4REV2") || enabled.has("UTF8=ACCEPT");

export const metadataCommand: ImapCommand<MetadataArgs> = {
  names: ["GETMETADATA", "SETMETADATA"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "none",
  capabilities: ["METADATA", "METADATA-SERVER"],
  parse: (args, ctx) =>
    ctx.name === "GETMETADATA" ? { kind: "get", request: readGetMetadata(args, utf8Names(ctx.enabled)) } : { kind: "set", request: readSetMetadata(args, utf8Names(ctx.enabled)) },
  run: (ctx, args) => (args.kind === "get" ? getMetadata(ctx, args.request) : setMetadata(ctx, args.request)),
};

async function target(ctx: CommandContext, name: string | null): Promise<Mailbox | null> {
  if (name === null) return null;
  const mailbox = await ctx.store.getMailbox(ctx.requireAccount().id, name);
  if (mailbox === null) throw ImapError.no("NONEXISTENT", "no such mailbox");
  return mailbox;
}

/** Every entry the user sees on the target, the computed ones included, sorted by name. */
export async function visibleEntries(ctx: CommandContext, mailbox: Mailbox | null): Promise<MetadataEntry[]> {
  const stored = await ctx.store.getMetadata(ctx.requireAccount().id, mailbox?.id ?? null);
  if (mailbox === null || mailbox.specialUse === null) return stored;
  return [...stored, { name: SPECIAL_USE_ENTRY, value: Buffer.from(mailbox.specialUse) }].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The entries a request names: each name itself, and its descendants to the depth (RFC 5464 §4.2.2). */
export function selectEntries(entries: readonly MetadataEntry[], requested: readonly string[], depth: MetadataDepth): { found: MetadataEntry[]; absent: string[] } {
  const found = new Map<string, MetadataEntry>();
  const absent: string[] = [];
  for (const name of requested) {
    let exact = false;
    for (const entry of entries) {
      if (entry.name === name) {
        exact = true;
        found.set(entry.name, entry);
      } else if (depth !== 0 && entry.name.startsWith(`${name}/`)) {
        const rest = entry.name.slice(name.length + 1);
        if (depth === "infinity" || !rest.includes("/")) found.set(entry.name, entry);
      }
    }
    if (!exact && depth === 0 && !absent.includes(name)) absent.push(name);
  }
  return { found: [...found.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)), absent };
}

/** A value as the response carries it: literal8 when it holds NUL (RFC 5464 §5 value = nstring / literal8). */
export function metadataValue(value: Buffer): ImapValue {
  return value.includes(0) ? { kind: "literal", size: value.length, bytes: value, binary: true } : str(value);
}

async function getMetadata(ctx: CommandContext, request: GetMetadataRequest): Promise<void> {
  const mailbox = await target(ctx, request.mailbox);
  const { found, absent } = selectEntries(await visibleEntries(ctx, mailbox), request.entries, request.depth);
  const items: ImapValue[] = [];
  let longest = 0;
  for (const entry of found) {
    if (request.maxSize !== null && entry.value.length > request.maxSize) {
      longest = Math.max(longest, entry.value.length);
      continue;
    }
    items.push(atom(entry.name), metadataValue(entry.value));
  }
  for (const name of absent) items.push(atom(name), NIL);
  if (items.length > 0) await ctx.untagged(atom("METADATA"), str(mailbox === null ? "" : ctx.encodeMailbox(mailbox.name)), list(items));
  // RFC 5464 §4.2.1: the size of the largest value left out.
  if (longest > 0) ctx.complete({ code: `METADATA LONGENTRIES ${longest}`, text: "GETMETADATA completed; some values were larger than MAXSIZE" });
}

async function setMetadata(ctx: CommandContext, request: SetMetadataRequest): Promise<void> {
  const account = ctx.requireAccount();
  const mailbox = await target(ctx, request.mailbox);
  const limits = ctx.metadataLimits;
  for (const { name, value } of request.values) {
    if (mailbox === null && name.startsWith("/shared/")) throw ImapError.no("NOPERM", "shared server entries are set by the administrator, not over IMAP");
    if (mailbox !== null && name === SPECIAL_USE_ENTRY) throw ImapError.no("NOPERM", "/private/specialuse follows the mailbox's SPECIAL-USE attribute and is read only");
    if (value !== null && value.length > limits.maxEntrySize) throw ImapError.no(`METADATA MAXSIZE ${limits.maxEntrySize}`, "value too large");
  }
  const result = await ctx.store.setMetadata(account.id, mailbox?.id ?? null, request.values, { maxEntriesPerMailbox: limits.maxEntriesPerMailbox, maxAccountBytes: limits.maxAccountBytes });
  if (!result.ok) {
    throw ImapError.no("METADATA TOOMANY", result.reason === "TOOMANY" ? `at most ${limits.maxEntriesPerMailbox} entries per mailbox` : "the account's metadata storage is full");
  }
}
