// Flags as the store keeps them (RFC 9051 §2.3.2): system flags in canonical case, keywords
// compared case-insensitively and stored as first given, \Recent never stored (it is session
// state, and gone in IMAP4rev2). Backend-neutral; moves down to store/ with a second backend.
import { StoreError } from "../errors.js";
import type { FlagUpdateMode } from "../mail-store.js";
import type { Flag } from "../types.js";
import { SYSTEM_FLAGS } from "../types.js";

const SYSTEM_BY_KEY = new Map<string, Flag>(SYSTEM_FLAGS.map((flag) => [flag.toLowerCase(), flag]));
/** RFC 9051 §9 flag-keyword = atom: no atom-specials, no CTL, no 8-bit. */
const KEYWORD = /^[\u0021\u0023\u0024\u0026\u0027\u002b-\u005b\u005e-\u007a\u007c-\u007e]+$/;
const MAX_KEYWORD_LENGTH = 255;

export const flagKey = (flag: Flag): string => flag.toLowerCase();

/** Canonical form of a list of flags, duplicates (case-insensitive) removed; INVALID if bad. */
export function normaliseFlags(flags: readonly unknown[] | undefined): Flag[] {
  const out = new Map<string, Flag>();
  for (const flag of flags ?? []) {
    if (typeof flag !== "string") throw new StoreError("INVALID", "flag must be a string");
    const key = flagKey(flag);
    if (key === "\\recent") continue;
    if (flag.startsWith("\\")) {
      const system = SYSTEM_BY_KEY.get(key);
      if (!system) throw new StoreError("INVALID", `unknown system flag ${JSON.stringify(flag)}`);
      if (!out.has(key)) out.set(key, system);
    } else {
      if (!KEYWORD.test(flag) || flag.length > MAX_KEYWORD_LENGTH) throw new StoreError("INVALID", `invalid keyword ${JSON.stringify(flag)}`);
      if (!out.has(key)) out.set(key, flag);
    }
  }
  return [...out.values()];
}

/** The flags after applying `mode`; keywords already present keep their stored spelling. */
export function applyFlagUpdate(current: readonly Flag[], mode: FlagUpdateMode, flags: readonly Flag[]): Flag[] {
  const existing = new Map(current.map((flag) => [flagKey(flag), flag]));
  switch (mode) {
    case "set":
      return flags.map((flag) => existing.get(flagKey(flag)) ?? flag);
    case "add":
      return [...current, ...flags.filter((flag) => !existing.has(flagKey(flag)))];
    case "remove": {
      const removed = new Set(flags.map(flagKey));
      return current.filter((flag) => !removed.has(flagKey(flag)));
    }
  }
}

export function sameFlags(a: readonly Flag[], b: readonly Flag[]): boolean {
  if (a.length !== b.length) return false;
  const keys = new Set(a.map(flagKey));
  return b.every((flag) => keys.has(flagKey(flag)));
}

export const hasFlag = (flags: readonly Flag[], flag: Flag): boolean => flags.some((f) => flagKey(f) === flagKey(flag));
