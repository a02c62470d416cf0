// ENVELOPE and BODYSTRUCTURE (RFC 9051 §7.5.2) as the bytes FETCH sends, computed once per blob
// at delivery (or by the migration that added them) from the parsed envelope and MIME tree, so a
// FETCH 1:* (ENVELOPE BODYSTRUCTURE) of a big mailbox reads a row per message and renders nothing
// (docs/architecture.md, "A FETCH of a big mailbox"). Backend-neutral: every backend stores these
// bytes beside its blob rows. The renderers are the IMAP layer's pure ones (imap/protocol/), so
// the bytes are those FETCH would render itself; neither depends on the per-recipient trace
// prefix (sizes and line counts only, no offsets).
import { renderBodyStructure } from "../imap/protocol/body-structure.js";
import { renderEnvelope } from "../imap/protocol/envelope.js";
import { encodeValue } from "../imap/protocol/response.js";
import type { Envelope } from "../mail/envelope.js";
import type { MimePart } from "../mail/mime-tree.js";

/**
 * Each item as the string whose UTF-8 form is its wire bytes: every string in an envelope or a
 * structure is a JavaScript string, so the encoder's output is always valid UTF-8 and the string
 * round-trips exactly (kept as TEXT, joined into the response line without a Buffer per item).
 */
export interface EncodedImapItems {
  envelope: string;
  /** For IMAP4rev1 clients: non-ASCII parameter values in RFC 2231 form. */
  bodyStructure: string;
  /** For clients that enabled UTF8=ACCEPT or IMAP4rev2; null when the same as bodyStructure (nearly always). */
  bodyStructureUtf8: string | null;
}

export function encodeImapItems(envelope: Envelope, root: MimePart): EncodedImapItems {
  const text = (bytes: Buffer): string => bytes.toString("utf8");
  const bodyStructure = text(encodeValue(renderBodyStructure(root, { utf8: false })));
  // The two forms differ only in parameter values that are not printable ASCII (body-structure.ts).
  const utf8 = nonAsciiParameter(root) ? text(encodeValue(renderBodyStructure(root, { utf8: true }))) : bodyStructure;
  return { envelope: text(encodeValue(renderEnvelope(envelope))), bodyStructure, bodyStructureUtf8: utf8 === bodyStructure ? null : utf8 };
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Whether a Content-Type or Content-Disposition parameter of any part holds a value that is not printable ASCII. */
function nonAsciiParameter(part: MimePart): boolean {
  const odd = (params: Record<string, string>): boolean => Object.values(params).some((value) => !PRINTABLE_ASCII.test(value));
  if (odd(part.contentType.params) || (part.disposition !== null && odd(part.disposition.params))) return true;
  if (part.children.some(nonAsciiParameter)) return true;
  return part.encapsulated !== null && nonAsciiParameter(part.encapsulated.root);
}
