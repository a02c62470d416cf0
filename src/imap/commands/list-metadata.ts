// RFC 9590 LIST-METADATA: `LIST ... RETURN (METADATA (entry ...))` answers, after each listed
// mailbox that exists, `* METADATA "mailbox" (entry value ...)` with the entries asked for as
// GETMETADATA with DEPTH 0 would (commands/metadata.ts: the user's /private entries, the
// mailbox's /shared ones, the computed /private/specialuse; an absent entry is NIL, as mox and
// our GETMETADATA answer). A \NonExistent name gets none. Entry names follow RFC 5464's rules
// (BAD otherwise); at most MAX_LIST_METADATA_ENTRIES of them, so a LIST over many mailboxes
// stays bounded.
import type { Mailbox } from "../../store/index.js";
import type { ArgumentReader } from "../protocol/arguments.js";
import { readEntryName } from "../protocol/metadata.js";
import { ImapParseError } from "../protocol/parse-error.js";
import { atom, list, NIL, str, type ImapValue } from "../protocol/response-value.js";
import type { CommandContext } from "./command.js";
import { metadataValue, selectEntries, visibleEntries } from "./metadata.js";

export const MAX_LIST_METADATA_ENTRIES = 100;

/** The `(entry ...)` after the METADATA return option (its SP included). */
export function readListMetadataOption(args: ArgumentReader): string[] {
  args.space();
  const entries: string[] = [];
  args.list(() => {
    const name = readEntryName(args, true);
    if (!entries.includes(name)) entries.push(name);
  }, false);
  if (entries.length > MAX_LIST_METADATA_ENTRIES) throw new ImapParseError(`at most ${MAX_LIST_METADATA_ENTRIES} METADATA entries in one LIST`);
  return entries;
}

/** The METADATA response for one listed mailbox, named as LIST named it (a shared one under Shared/). */
export async function listMetadataResponse(ctx: CommandContext, mailbox: Mailbox, entries: readonly string[], listedName: string = mailbox.name): Promise<void> {
  const { found, absent } = selectEntries(await visibleEntries(ctx, mailbox), entries, 0);
  const values = new Map<string, ImapValue>(found.map((entry) => [entry.name, metadataValue(entry.value)]));
  for (const name of absent) values.set(name, NIL);
  // In the order asked for.
  const items = entries.flatMap((name): ImapValue[] => [atom(name), values.get(name) ?? NIL]);
  await ctx.untagged(atom("METADATA"), str(ctx.encodeMailbox(listedName)), list(items));
}
