// Walking a stored MIME part tree: resolving IMAP section part numbers (RFC 9051 §6.4.5) and moving
// offsets for a prefix stored before the message. Pure; re-exported by mime-tree.ts.

import type { MimePart } from "./mime-tree.js";

/** Resolves an IMAP section part number ("", "1", "2.1.3") to its part, or null if there is none. */
export function findPart(root: MimePart, section: string): MimePart | null {
  if (section === "") return root;
  let container = root;
  let isMessage = true;
  let found: MimePart | null = null;
  for (const text of section.split(".")) {
    if (!/^[1-9][0-9]{0,8}$/.test(text)) return null;
    const index = Number(text);
    if (container.contentType.type === "multipart") found = container.children[index - 1] ?? null;
    // RFC 9051 §6.4.5: the body of a message that is not multipart is its part 1.
    else if (isMessage && index === 1) found = container;
    else return null;
    if (found === null) return null;
    isMessage = found.encapsulated !== null;
    container = found.encapsulated?.root ?? found;
  }
  return found;
}

/**
 * A deep copy with every offset moved by delta, for a prefix stored before the message. The root's
 * headerStart stays 0: the prefix becomes part of the top-level header.
 */
export function shiftOffsets(part: MimePart, delta: number): MimePart {
  const shifted = shiftPart(part, delta);
  shifted.headerStart = part.headerStart === 0 ? 0 : part.headerStart + delta;
  return shifted;
}

function shiftPart(part: MimePart, delta: number): MimePart {
  return {
    ...part,
    headerStart: part.headerStart + delta,
    headerEnd: part.headerEnd + delta,
    bodyStart: part.bodyStart + delta,
    bodyEnd: part.bodyEnd + delta,
    contentType: { ...part.contentType, params: { ...part.contentType.params } },
    disposition: part.disposition === null ? null : { ...part.disposition, params: { ...part.disposition.params } },
    contentLanguage: part.contentLanguage === null ? null : [...part.contentLanguage],
    children: part.children.map((child) => shiftPart(child, delta)),
    encapsulated:
      part.encapsulated === null
        ? null
        : { envelope: structuredClone(part.encapsulated.envelope), root: shiftPart(part.encapsulated.root, delta) },
  };
}
