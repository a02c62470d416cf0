// Mailbox name rules the store enforces for every protocol: `/`-separated levels, none empty,
// no control characters, at most 1024 octets of UTF-8. IMAP's modified UTF-7 and wildcard rules
// are the IMAP layer's business. The first level "INBOX" is case-insensitive (RFC 9051 §5.1)
// and always stored as "INBOX". Backend-neutral; moves down to store/ with a second backend.
import { StoreError } from "../errors.js";
import { HIERARCHY_DELIMITER } from "../types.js";

const MAX_NAME_OCTETS = 1024;
/** C0, DEL and C1 controls, and lone UTF-16 surrogates (not encodable as UTF-8). */
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f]|\p{Cs}/u;

export const INBOX = "INBOX";

/** Validates and normalises a mailbox name; throws StoreError CANNOT when it is not acceptable. */
export function normaliseMailboxName(name: unknown): string {
  if (typeof name !== "string") throw new StoreError("CANNOT", "mailbox name must be a string");
  const refuse = (why: string) => new StoreError("CANNOT", `invalid mailbox name (${why})`);
  if (name === "") throw refuse("empty");
  if (Buffer.byteLength(name, "utf8") > MAX_NAME_OCTETS) throw refuse(`longer than ${MAX_NAME_OCTETS} octets`);
  if (FORBIDDEN.test(name)) throw refuse("control character");
  const levels = name.split(HIERARCHY_DELIMITER);
  if (levels.some((level) => level === "")) throw refuse("empty hierarchy level, or leading/trailing delimiter");
  if (levels[0]?.toUpperCase() === INBOX) levels[0] = INBOX;
  return levels.join(HIERARCHY_DELIMITER);
}

/** The names of every superior of `name`, outermost first ("a/b/c" -> ["a", "a/b"]). */
export function parentNames(name: string): string[] {
  const levels = name.split(HIERARCHY_DELIMITER);
  const parents: string[] = [];
  for (let i = 1; i < levels.length; i++) parents.push(levels.slice(0, i).join(HIERARCHY_DELIMITER));
  return parents;
}

/** Whether `name` is `ancestor` or lies below it. */
export function isWithin(name: string, ancestor: string): boolean {
  return name === ancestor || name.startsWith(ancestor + HIERARCHY_DELIMITER);
}
