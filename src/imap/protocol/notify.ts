// RFC 5465 NOTIFY grammar (§8), apart from what the session does with it (session/notify.ts).
//
//   NOTIFY NONE
//   NOTIFY SET [STATUS] (selected (MessageNew (UID FLAGS) MessageExpunge FlagChange))
//                       (subtree Lists (MessageNew MessageExpunge)) (personal (MailboxName))
//
// MessageNew's fetch attributes (selected filters only, §5.2) are read as FETCH reads them
// (fetch-item.ts), so they can be answered by the FETCH code itself.
import { ArgumentReader } from "./arguments.js";
import { readFetchRequest, type FetchRequest } from "./fetch-item.js";
import { readMetadataMailbox } from "./metadata.js";
import { ImapParseError } from "./parse-error.js";

export const NOTIFY_EVENTS = ["MessageNew", "MessageExpunge", "FlagChange", "AnnotationChange", "MailboxName", "SubscriptionChange", "MailboxMetadataChange", "ServerMetadataChange"] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export type MailboxFilter =
  | { readonly kind: "selected" | "selected-delayed" | "inboxes" | "personal" | "subscribed" }
  | { readonly kind: "subtree" | "mailboxes"; readonly names: readonly string[] };

export interface EventGroup {
  readonly filter: MailboxFilter;
  /** Empty: NONE (no events for these mailboxes). */
  readonly events: readonly NotifyEvent[];
  /** MessageNew's fetch attributes, for the selected mailbox: new messages are answered as `UID FETCH` would. */
  readonly fetch: FetchRequest | null;
}

export type NotifyRequest = { readonly kind: "none" } | { readonly kind: "set"; readonly status: boolean; readonly groups: readonly EventGroup[] };

/** Mailboxes named in one filter at most (each is a name the session keeps and matches). */
export const MAX_FILTER_MAILBOXES = 1000;

const FILTERS = new Map<string, MailboxFilter["kind"]>([
  ["SELECTED", "selected"],
  ["SELECTED-DELAYED", "selected-delayed"],
  ["INBOXES", "inboxes"],
  ["PERSONAL", "personal"],
  ["SUBSCRIBED", "subscribed"],
  ["SUBTREE", "subtree"],
  ["MAILBOXES", "mailboxes"],
]);

const EVENT_BY_NAME = new Map<string, NotifyEvent>(NOTIFY_EVENTS.map((e) => [e.toUpperCase(), e]));

export function readNotify(args: ArgumentReader, utf8: boolean): NotifyRequest {
  const verb = args.atom().toUpperCase();
  if (verb === "NONE") {
    args.end();
    return { kind: "none" };
  }
  if (verb !== "SET") throw new ImapParseError("NOTIFY takes SET or NONE");
  args.space();
  let status = false;
  if (args.takeKeyword("STATUS")) {
    status = true;
    args.space();
  }
  const groups: EventGroup[] = [groupOf(args, utf8)];
  while (args.takeChar(" ")) groups.push(groupOf(args, utf8));
  args.end();
  // RFC 5465 §6: a filter naming the selected mailbox appears once at most.
  if (groups.filter((g) => g.filter.kind === "selected" || g.filter.kind === "selected-delayed").length > 1) throw new ImapParseError("SELECTED given more than once");
  return { kind: "set", status, groups };
}

function groupOf(args: ArgumentReader, utf8: boolean): EventGroup {
  args.listStart();
  const word = args.atom().toUpperCase();
  const kind = FILTERS.get(word);
  if (kind === undefined) throw new ImapParseError(`unknown mailbox filter ${word.slice(0, 40)}`);
  let filter: MailboxFilter;
  if (kind === "subtree" || kind === "mailboxes") {
    args.space();
    const names: string[] = [];
    if (args.peekListStart()) {
      args.listStart();
      names.push(mailboxName(args, utf8));
      while (args.takeChar(" ")) {
        names.push(mailboxName(args, utf8));
        if (names.length > MAX_FILTER_MAILBOXES) throw new ImapParseError(`more than ${MAX_FILTER_MAILBOXES} mailboxes in one filter`);
      }
      args.listEnd();
    } else names.push(mailboxName(args, utf8));
    filter = { kind, names };
  } else filter = { kind };
  args.space();
  const events: NotifyEvent[] = [];
  let fetch: FetchRequest | null = null;
  if (!args.takeKeyword("NONE")) {
    args.listStart();
    for (;;) {
      const name = args.atom();
      const event = EVENT_BY_NAME.get(name.toUpperCase());
      if (event === undefined) throw new ImapParseError(`unknown event ${name.slice(0, 40)}`);
      if (events.includes(event)) throw new ImapParseError(`${event} given twice`);
      events.push(event);
      if (!args.takeChar(" ")) break;
      if (event === "MessageNew" && args.peekListStart()) {
        if (kind !== "selected" && kind !== "selected-delayed") throw new ImapParseError("fetch attributes are for the selected mailbox only");
        fetch = readFetchRequest(ArgumentReader.ofLine(balancedList(args)), true);
        if (!args.takeChar(" ")) break;
      }
    }
    args.listEnd();
    // RFC 5465 §5.4 asks clients to pair FlagChange with the message events; a lone FlagChange is
    // accepted, as Dovecot does (imaptest's notify script uses one).
  }
  args.listEnd();
  return { filter, events, fetch };
}

function mailboxName(args: ArgumentReader, utf8: boolean): string {
  const name = readMetadataMailbox(args, utf8);
  if (name === null) throw new ImapParseError("empty mailbox name");
  return name;
}

/** A parenthesised list as text (quoted strings kept whole), for re-reading by another grammar. */
function balancedList(args: ArgumentReader): string {
  let depth = 0;
  let text = "";
  let quoted = false;
  for (;;) {
    const c = args.peekChar();
    if (c === null) throw new ImapParseError("unterminated list");
    args.takeChar(c);
    text += c;
    if (quoted) {
      if (c === "\\") {
        const next = args.peekChar();
        if (next === null) throw new ImapParseError("unterminated quoted string");
        args.takeChar(next);
        text += next;
      } else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return text;
  }
}
