// What the user's RFC 4314 rights allow on a selected mailbox (§4): \Seen needs "s", \Deleted
// "t", any other flag or keyword "w", EXPUNGE "e". A mailbox on which none of these rights is
// held opens read-only (as Dovecot opens it), so a client knows from SELECT that it cannot change
// anything; PERMANENTFLAGS lists only the flags the user may change.
import { hasRights } from "../../store/index.js";
import { ImapError } from "../commands/imap-error.js";

/** True when the rights let the user change nothing in the mailbox's messages. */
export function readOnlyFor(rights: string): boolean {
  return ![..."swte"].some((r) => rights.includes(r));
}

/** The right STORE needs to change a flag (RFC 4314 §4). */
export function rightForFlag(flag: string): "s" | "t" | "w" {
  const lower = flag.toLowerCase();
  return lower === "\\seen" ? "s" : lower === "\\deleted" ? "t" : "w";
}

/** PERMANENTFLAGS (RFC 9051 §7.1) narrowed to the flags the rights let the user change. */
export function permanentFlagsFor(flags: readonly string[], rights: string): string[] {
  return flags.filter((flag) => rights.includes(rightForFlag(flag)));
}

/** NO [NOPERM] naming the first flag the user may not change. */
export function requireFlagRights(flags: readonly string[], rights: string): void {
  for (const flag of flags) {
    const needed = rightForFlag(flag);
    if (!hasRights(rights, needed)) throw ImapError.no("NOPERM", `permission denied: changing ${flag.slice(0, 40)} needs the "${needed}" right`);
  }
}

/** True when the rights let the user change at least one kind of flag (\Seen, \Deleted, the others). */
export function mayChangeSomeFlag(rights: string): boolean {
  return [..."stw"].some((r) => rights.includes(r));
}

/**
 * +FLAGS/-FLAGS: the flags the rights let the user change. RFC 4314 §4: STORE "SHOULD NOT fail"
 * when the user may change at least one of the flags named; the others are silently left alone.
 * NO [NOPERM] only when none may change.
 */
export function changeableFlags(flags: readonly string[], rights: string): string[] {
  const allowed = permanentFlagsFor(flags, rights);
  if (flags.length > 0 && allowed.length === 0) requireFlagRights(flags, rights);
  return allowed;
}

/**
 * FLAGS (replace) under rights covering only some kinds of flags: the message's new flags are the
 * requested ones of the kinds the user may change and its current ones of the other kinds.
 */
export function replacedWithinRights(requested: readonly string[], current: readonly string[], rights: string): string[] {
  const may = (flag: string): boolean => rights.includes(rightForFlag(flag));
  return [...requested.filter(may), ...current.filter((flag) => !may(flag))];
}
