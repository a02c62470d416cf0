// RFC 4314 access rights: the letters, their canonical order, and the obsolete RFC 2086 "c" and
// "d". Pure and shared by the IMAP ACL commands, the store (which keeps rights in canonical form)
// and `mailroom share`.
//
// §2.1: l lookup (LIST), r read (SELECT, FETCH, SEARCH, COPY from), s keep \Seen, w write other
// flags, i insert (APPEND, COPY into), p post (submission to the mailbox: advisory, no such
// address here), k create mailboxes below, x delete the mailbox, t set \Deleted, e expunge,
// a administer (SETACL, GETACL, LISTRIGHTS).
//
// §2.1.1 obsolete rights: RFC 2086 servers disagreed on which of "c" and "d" controlled DELETE.
// Mailroom takes the RFC's second reading, the one RIGHTS=texk servers such as Dovecot use:
// "c" (create) is "k", "d" (delete) is "x", "t" and "e" together. A rights string a client sends
// with "c" or "d" means every member; rights sent back carry "c" when "k" is held and "d" when any
// of "x", "t", "e" is (§2.1.1: a member of the group shows the obsolete letter).

/** Every right, in the order Mailroom writes them (RFC 4314 §2.1). */
export const ALL_RIGHTS = "lrswipkxtea";

/** The members of the obsolete rights (RFC 4314 §2.1.1, second reading). */
const OBSOLETE: Readonly<Record<string, string>> = { c: "k", d: "xte" };

/** RFC 4314 §3.1 SETACL: the rights replace the identifier's, or are added ("+") or taken away ("-"). */
export type RightsChange = { mode: "replace" | "add" | "remove"; rights: string };

/**
 * The canonical form of a rights string (each right once, in ALL_RIGHTS order, "c"/"d" expanded),
 * or null when it holds a letter that is no right (RFC 4314 §3.1: an unknown right is BAD, never
 * ignored). Case matters: rights are lower-case letters.
 */
export function canonicalRights(text: string): string | null {
  const held = new Set<string>();
  for (const letter of text) {
    const members = OBSOLETE[letter];
    if (members !== undefined) for (const member of members) held.add(member);
    else if (ALL_RIGHTS.includes(letter)) held.add(letter);
    else return null;
  }
  return [...ALL_RIGHTS].filter((r) => held.has(r)).join("");
}

/** SETACL's mod-rights (RFC 4314 §3.1: `["+" / "-"] rights`), or null when a letter is unknown. */
export function parseRightsChange(text: string): RightsChange | null {
  const mode = text.startsWith("+") ? "add" : text.startsWith("-") ? "remove" : "replace";
  const rights = canonicalRights(mode === "replace" ? text : text.slice(1));
  return rights === null ? null : { mode, rights };
}

/** The identifier's rights after a change, canonical ("" means no entry). */
export function applyRightsChange(current: string, change: RightsChange): string {
  if (change.mode === "replace") return change.rights;
  if (change.mode === "add") return canonicalRights(current + change.rights) ?? current;
  return [...current].filter((r) => !change.rights.includes(r)).join("");
}

/** Union of canonical rights strings (RFC 4314 §2: a user holds the rights of every identifier that names it). */
export function unionRights(...all: readonly string[]): string {
  return canonicalRights(all.join("")) ?? "";
}

/** Rights as GETACL and MYRIGHTS send them: canonical, plus "c" and "d" where §2.1.1 asks. */
export function displayRights(rights: string): string {
  let shown = rights;
  if (rights.includes("k")) shown += "c";
  if (/[xte]/.test(rights)) shown += "d";
  return shown;
}

/** True when every right of `needed` is in `rights`. */
export function hasRights(rights: string, needed: string): boolean {
  for (const r of needed) if (!rights.includes(r)) return false;
  return true;
}

/** RFC 4314 §2: the identifier every user matches. */
export const ANYONE = "anyone";
