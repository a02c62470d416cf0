// RFC 9051 §6.3.9 LIST patterns: the reference is joined to the pattern, "*" matches anything and
// "%" anything but the hierarchy delimiter. INBOX matches case-insensitively (RFC 9051 §5.1).
import { HIERARCHY_DELIMITER } from "../../store/index.js";

export interface NamePattern {
  readonly text: string;
  matches(name: string): boolean;
  /** True if some descendant of name could match (for \HasChildren and CHILDINFO decisions). */
  couldMatchBelow(name: string): boolean;
}

export function joinReference(reference: string, pattern: string): string {
  if (reference === "" || pattern.startsWith(HIERARCHY_DELIMITER)) return pattern;
  return reference.endsWith(HIERARCHY_DELIMITER) ? reference + pattern : `${reference}${HIERARCHY_DELIMITER}${pattern}`;
}

export function compilePattern(text: string): NamePattern {
  let source = "";
  for (const char of text) {
    if (char === "*") source += ".*";
    else if (char === "%") source += "[^/]*";
    else source += char.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  const exact = new RegExp(`^${source}$`, "su");
  const exactAnyCase = new RegExp(`^${source}$`, "isu");
  const prefix = new RegExp(`^${source}`, "su");
  // Only the INBOX level is case-insensitive; the looser test is used for names under it alone.
  const underInbox = (name: string) => name === "INBOX" || name.startsWith("INBOX/");
  return {
    text,
    matches: (name) => exact.test(name) || (underInbox(name) && exactAnyCase.test(name)),
    couldMatchBelow: (name) => prefix.test(`${name}${HIERARCHY_DELIMITER}`),
  };
}
