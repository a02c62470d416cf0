// RFC 9051 §6.3.9 LIST with RFC 5258 LIST-EXTENDED (selection options SUBSCRIBED, SPECIAL-USE,
// RECURSIVEMATCH; return options SUBSCRIBED, CHILDREN, SPECIAL-USE, STATUS of RFC 5819), and the
// IMAP4rev1 LSUB (RFC 3501 §6.3.9); RETURN (METADATA (...)) of RFC 9590 in list-metadata.ts.
// Every answer carries \HasChildren or \HasNoChildren (RFC 3348) and the RFC 6154 special-use
// attribute; subscribed names that no longer exist are \NonExistent. LSUB is served from the
// subscription list, with \Noselect for names that are gone.
import { ALL_RIGHTS, displayRights, HIERARCHY_DELIMITER, type Mailbox } from "../../store/index.js";
import { listingFor } from "../acl/shared-list.js";
import type { ArgumentReader } from "../protocol/arguments.js";
import { atom, list, str, type ImapValue } from "../protocol/response-value.js";
import type { ImapCommand } from "./command.js";
import { compilePattern, joinReference, type NamePattern } from "./list-pattern.js";
import { parseStatusItems, statusValues, type StatusItem } from "./status-items.js";
import { listMetadataResponse, readListMetadataOption } from "./list-metadata.js";

interface ListArgs {
  /** Null (as a pattern) when not validly encoded: it matches nothing (ArgumentReader.listMailbox). */
  reference: string | null;
  patterns: (string | null)[];
  selectSubscribed: boolean;
  selectSpecialUse: boolean;
  recursiveMatch: boolean;
  returnSubscribed: boolean;
  returnStatus: StatusItem[] | null;
  /** RFC 9590 RETURN (METADATA (entries)), list-metadata.ts. */
  returnMetadata: string[] | null;
  /** RFC 8440 RETURN (MYRIGHTS). */
  returnMyRights: boolean;
}

interface ListEntry {
  name: string;
  attributes: string[];
  childInfo: boolean;
  mailbox: Mailbox | null;
}

function parseSelection(args: ArgumentReader, into: ListArgs): void {
  args.list(() => {
    const option = args.atom().toUpperCase();
    if (option === "SUBSCRIBED") into.selectSubscribed = true;
    else if (option === "SPECIAL-USE") into.selectSpecialUse = true;
    else if (option === "RECURSIVEMATCH") into.recursiveMatch = true;
    else if (option !== "REMOTE") throw args.error(`unknown LIST selection option ${option.slice(0, 30)}`);
  });
  // RFC 5258 §3: RECURSIVEMATCH alone is BAD.
  if (into.recursiveMatch && !into.selectSubscribed && !into.selectSpecialUse) throw args.error("RECURSIVEMATCH needs another selection option");
  args.space();
}

function parseReturn(args: ArgumentReader, into: ListArgs): void {
  args.space();
  if (!args.takeKeyword("RETURN")) throw args.error("expected RETURN");
  args.space();
  args.list(() => {
    const option = args.atom().toUpperCase();
    if (option === "SUBSCRIBED") into.returnSubscribed = true;
    else if (option === "STATUS") {
      args.space();
      into.returnStatus = parseStatusItems(args);
    } else if (option === "METADATA") into.returnMetadata = readListMetadataOption(args);
    else if (option === "MYRIGHTS") into.returnMyRights = true;
    else if (option !== "CHILDREN" && option !== "SPECIAL-USE") throw args.error(`unknown LIST return option ${option.slice(0, 30)}`);
  });
}

export const listCommand: ImapCommand<ListArgs> = {
  names: ["LIST", "LSUB"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "none",
  capabilities: ["LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CHILDREN", "LIST-METADATA", "LIST-MYRIGHTS"],
  parse: (args, ctx) => {
    const parsed: ListArgs = { reference: "", patterns: [], selectSubscribed: ctx.name === "LSUB", selectSpecialUse: false, recursiveMatch: false, returnSubscribed: false, returnStatus: null, returnMetadata: null, returnMyRights: false };
    if (ctx.name === "LIST" && args.peekListStart()) parseSelection(args, parsed);
    parsed.reference = args.listMailbox();
    args.space();
    parsed.patterns = ctx.name === "LIST" && args.peekListStart() ? args.list(() => args.listMailbox(), false) : [args.listMailbox()];
    if (ctx.name === "LIST" && !args.atEnd()) parseReturn(args, parsed);
    args.end();
    return parsed;
  },
  run: async (ctx, args) => {
    const account = ctx.requireAccount();
    // RFC 9051 §6.3.9: an empty pattern asks for the delimiter and the root.
    if (args.patterns.length === 1 && args.patterns[0] === "") {
      const root = args.reference === null || args.reference === "" ? "" : ctx.encodeMailbox(args.reference.split(HIERARCHY_DELIMITER)[0] ?? "");
      await ctx.untagged(atom(ctx.name), list([atom("\\Noselect")]), str(HIERARCHY_DELIMITER), str(root));
      return;
    }
    const reference = args.reference;
    if (reference === null) return;
    const patterns = args.patterns.filter((p) => p !== null).map((p) => compilePattern(joinReference(reference, p)));
    if (patterns.length === 0) return;
    // The user's mailboxes and those shared with it (acl/shared-list.ts).
    const { mailboxes, levels, rights } = await listingFor(ctx, account);
    const subscriptions = new Set(await ctx.store.listSubscriptions(account.id));
    const entries = listEntries(ctx.name === "LSUB", args, patterns, mailboxes, subscriptions);
    if (!args.selectSubscribed && !args.selectSpecialUse) {
      const listed = new Set(entries.map((e) => e.name));
      for (const level of levels) if (!listed.has(level) && patterns.some((p) => p.matches(level))) entries.push({ name: level, attributes: ["\\Noselect", "\\HasChildren"], childInfo: false, mailbox: null });
      entries.sort((a, b) => (a.name === "INBOX" ? -1 : b.name === "INBOX" ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }
    for (const entry of entries) {
      const entryRights = rights.get(entry.name) ?? ALL_RIGHTS;
      const extended: ImapValue[] = entry.childInfo && ctx.name === "LIST" ? [list([str("CHILDINFO"), list([str("SUBSCRIBED")])])] : [];
      await ctx.untagged(atom(ctx.name), list(entry.attributes.map((a) => atom(a))), str(HIERARCHY_DELIMITER), str(ctx.encodeMailbox(entry.name)), ...extended);
      // RFC 8440 §3: MYRIGHTS of every listed mailbox that exists.
      if (args.returnMyRights && entry.mailbox !== null) await ctx.untagged(atom("MYRIGHTS"), str(ctx.encodeMailbox(entry.name)), atom(displayRights(entryRights)));
      // RFC 4314 §4: STATUS needs "r".
      if (args.returnStatus !== null && entry.mailbox !== null && entryRights.includes("r")) {
        const status = await ctx.store.mailboxStatus(entry.mailbox.id);
        await ctx.untagged(atom("STATUS"), str(ctx.encodeMailbox(entry.name)), list(statusValues(status, args.returnStatus, args.returnStatus.includes("RECENT") && !ctx.rev2 ? await ctx.store.countRecent(entry.mailbox.id) : 0, entry.mailbox)));
      }
      if (args.returnMetadata !== null && entry.mailbox !== null) await listMetadataResponse(ctx, entry.mailbox, args.returnMetadata, entry.name);
    }
  },
};

function listEntries(lsub: boolean, args: ListArgs, patterns: NamePattern[], mailboxes: Mailbox[], subscriptions: Set<string>): ListEntry[] {
  const byName = new Map(mailboxes.map((m) => [m.name, m]));
  const matches = (name: string) => patterns.some((p) => p.matches(name));
  const hasChildren = (name: string) => mailboxes.some((m) => m.name.startsWith(`${name}${HIERARCHY_DELIMITER}`));
  const candidates = args.selectSubscribed ? [...subscriptions] : mailboxes.map((m) => m.name);
  const entries = new Map<string, ListEntry>();
  for (const name of candidates) {
    if (!matches(name)) continue;
    const mailbox = byName.get(name) ?? null;
    if (args.selectSpecialUse && mailbox?.specialUse == null) continue;
    entries.set(name, { name, attributes: attributesOf(lsub, name, mailbox, subscriptions, args, hasChildren(name)), childInfo: false, mailbox });
  }
  // RFC 5258 §3 (\NonExistent, CHILDINFO) with RECURSIVEMATCH: a name matching the pattern is
  // listed, with CHILDINFO, when it has a subscribed descendant that does NOT itself match the
  // pattern (one that matches is listed in its own right). It need not be subscribed or exist.
  // LSUB is answered so too (as Dovecot does), the parent then flagged \Noselect: RFC 3501
  // §6.3.9, `LSUB "" foo/%` with only foo/bar subscribed returns foo as \Noselect.
  if ((args.recursiveMatch || lsub) && args.selectSubscribed) {
    for (const subscribed of subscriptions) {
      if (matches(subscribed)) continue;
      const levels = subscribed.split(HIERARCHY_DELIMITER);
      for (let depth = 1; depth < levels.length; depth++) {
        const name = levels.slice(0, depth).join(HIERARCHY_DELIMITER);
        if (!matches(name)) continue;
        const listed = entries.get(name);
        if (listed !== undefined) {
          listed.childInfo = true;
          continue;
        }
        const mailbox = byName.get(name) ?? null;
        const attributes = lsub ? ["\\Noselect"] : attributesOf(false, name, mailbox, subscriptions, args, hasChildren(name));
        entries.set(name, { name, attributes, childInfo: true, mailbox });
      }
    }
  }
  return [...entries.values()].sort((a, b) => (a.name === "INBOX" ? -1 : b.name === "INBOX" ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function attributesOf(lsub: boolean, name: string, mailbox: Mailbox | null, subscriptions: Set<string>, args: ListArgs, children: boolean): string[] {
  const subscribed = (args.selectSubscribed || args.returnSubscribed) && subscriptions.has(name);
  if (lsub) return mailbox === null ? ["\\Noselect"] : [];
  if (mailbox === null) return subscribed ? ["\\NonExistent", "\\Subscribed"] : ["\\NonExistent"];
  const attributes = [children ? "\\HasChildren" : "\\HasNoChildren"];
  if (mailbox.specialUse !== null) attributes.push(mailbox.specialUse);
  if (subscribed) attributes.push("\\Subscribed");
  return attributes;
}
