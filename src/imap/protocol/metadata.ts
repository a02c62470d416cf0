// RFC 5464 METADATA grammar (§5: getmetadata, setmetadata, entries, values), apart from what the
// commands do with it (commands/metadata.ts). Entry names are case-insensitive (§3.2) and read
// here in lower case, checked against §3.2's rules: a slash-separated path under /private or
// /shared, no `*` or `%` (they would be wildcards in a future search), no empty component, no
// trailing slash; only printable ASCII, so a name never needs more than a quoted string.
import type { ArgumentReader } from "./arguments.js";
import { checkMailboxName, decodeMailboxName } from "./mailbox-name.js";
import { ImapParseError } from "./parse-error.js";

/** Longest entry name (octets): names are paths of a few words; this bounds what a row's key can be. */
export const MAX_ENTRY_NAME = 1024;

export type MetadataDepth = 0 | 1 | "infinity";

export interface GetMetadataRequest {
  /** null: the server (mailbox ""). */
  readonly mailbox: string | null;
  /** RFC 5464 §4.2.1: entries whose value is larger are left out (LONGENTRIES); null: no limit. */
  readonly maxSize: number | null;
  readonly depth: MetadataDepth;
  readonly entries: readonly string[];
}

export interface SetMetadataRequest {
  readonly mailbox: string | null;
  readonly values: readonly { readonly name: string; readonly value: Buffer | null }[];
}

/** `mailbox` where "" names the server (RFC 5464 §4.2, §4.3). */
export function readMetadataMailbox(args: ArgumentReader, utf8: boolean): string | null {
  const raw = args.astringBytes();
  if (raw.length === 0) return null;
  return checkMailboxName(decodeMailboxName(raw, utf8));
}

/**
 * An entry name, lower-cased. `forSet`: a name that can hold a value (below /private or /shared);
 * otherwise "/private" and "/shared" themselves are allowed too (GETMETADATA with DEPTH).
 */
export function readEntryName(args: ArgumentReader, forSet: boolean): string {
  const raw = args.astringBytes();
  if (raw.length > MAX_ENTRY_NAME) throw new ImapParseError(`entry name longer than ${MAX_ENTRY_NAME} octets`);
  const name = raw.toString("latin1");
  const problem = entryNameProblem(name, forSet);
  if (problem !== null) throw new ImapParseError(`invalid entry name: ${problem}`);
  return name.toLowerCase();
}

export function entryNameProblem(name: string, forSet: boolean): string | null {
  if (!/^[\x21-\x7e]+$/.test(name)) return "only printable ASCII";
  if (/[*%]/.test(name)) return "no * or %";
  const lower = name.toLowerCase();
  const root = lower === "/private" || lower === "/shared";
  if (!root && !lower.startsWith("/private/") && !lower.startsWith("/shared/")) return "must start with /private or /shared";
  if (root && forSet) return "a value needs a name below /private or /shared";
  if (lower.includes("//")) return "no empty component";
  if (lower.endsWith("/")) return "no trailing slash";
  return null;
}

/** getmetadata = "GETMETADATA" [SP getmetadata-options] SP mailbox SP entries (RFC 5464 §5). */
export function readGetMetadata(args: ArgumentReader, utf8: boolean): GetMetadataRequest {
  let maxSize: number | null = null;
  let depth: MetadataDepth = 0;
  if (args.peekListStart()) {
    args.listStart();
    const seen = new Set<string>();
    for (let first = true; !args.peekListEnd(); first = false) {
      if (!first) args.space();
      const option = args.atom().toUpperCase();
      if (seen.has(option)) throw new ImapParseError(`${option} given twice`);
      seen.add(option);
      args.space();
      if (option === "MAXSIZE") maxSize = args.number();
      else if (option === "DEPTH") {
        const value = args.atom().toLowerCase();
        if (value === "0") depth = 0;
        else if (value === "1") depth = 1;
        else if (value === "infinity") depth = "infinity";
        else throw new ImapParseError("DEPTH is 0, 1 or infinity");
      } else throw new ImapParseError(`unknown GETMETADATA option ${option.slice(0, 40)}`);
    }
    args.listEnd();
    if (seen.size === 0) throw new ImapParseError("empty GETMETADATA options");
    args.space();
  }
  const mailbox = readMetadataMailbox(args, utf8);
  args.space();
  const entries: string[] = [];
  if (args.peekListStart()) {
    args.listStart();
    entries.push(readEntryName(args, false));
    while (!args.peekListEnd()) {
      args.space();
      entries.push(readEntryName(args, false));
    }
    args.listEnd();
  } else entries.push(readEntryName(args, false));
  args.end();
  return { mailbox, maxSize, depth, entries };
}

/** setmetadata = "SETMETADATA" SP mailbox SP entry-values; value = nstring / literal8 (RFC 5464 §5). */
export function readSetMetadata(args: ArgumentReader, utf8: boolean): SetMetadataRequest {
  const mailbox = readMetadataMailbox(args, utf8);
  args.space();
  args.listStart();
  const values: { name: string; value: Buffer | null }[] = [];
  const names = new Set<string>();
  for (let first = true; first || !args.peekListEnd(); first = false) {
    if (!first) args.space();
    const name = readEntryName(args, true);
    if (names.has(name)) throw new ImapParseError(`entry ${name} given twice`);
    names.add(name);
    args.space();
    const value = args.takeKeyword("NIL") ? null : args.string(true);
    values.push({ name, value });
  }
  args.listEnd();
  args.end();
  return { mailbox, values };
}
