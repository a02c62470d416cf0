// The FETCH grammar (RFC 9051 §6.4.5 and §9, RFC 3501 §6.4.5 for the RFC822.* items, RFC 3516
// BINARY, RFC 7162 MODSEQ / CHANGEDSINCE / VANISHED) → typed FetchItem values. Pure: text in,
// values or an ImapParseError (from the ArgumentReader) out; it never throws anything else.
//
//   fetch         = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
//                   "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]
//   fetch-att     = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822" [".HEADER" / ".TEXT"] /
//                   "RFC822.SIZE" / "BODY" ["STRUCTURE"] / "UID" / "MODSEQ" /
//                   "BODY" section [partial] / "BODY.PEEK" section [partial] /
//                   "BINARY" [".PEEK"] section-binary [partial] / "BINARY.SIZE" section-binary
//   section       = "[" [section-spec] "]"
//   section-spec  = section-msgtext / (section-part ["." section-text])
//   section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
//   section-text  = section-msgtext / "MIME"
//   section-part  = nz-number *("." nz-number)
//   section-binary = "[" [section-part] "]"
//   partial       = "<" number64 "." nz-number64 ">"
//   header-list   = "(" header-fld-name *(SP header-fld-name) ")"      ; header-fld-name = astring
//   fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"
//   fetch-modifier = "CHANGEDSINCE" SP mod-sequence-value / "VANISHED" / "PARTIAL" SP partial-range

import type { ArgumentReader } from "./arguments.js";
import { parsePartialRange, type PartialRange } from "./search-key.js";

/** What a section names inside the part given by `part` (RFC 9051 §6.4.5). */
export type SectionText =
  | { kind: "all" }
  | { kind: "header" }
  | { kind: "header-fields"; names: string[]; not: boolean }
  | { kind: "text" }
  | { kind: "mime" };

export interface Section {
  /** Part numbers, outermost first; [] is the whole message. */
  part: number[];
  text: SectionText;
}

/** `<start.length>`: octets of the section, counted after any subsetting (RFC 9051 §6.4.5). */
export interface Partial {
  start: number;
  length: number;
}

export type FetchItem =
  | { kind: "flags" }
  | { kind: "uid" }
  | { kind: "internaldate" }
  | { kind: "rfc822.size" }
  | { kind: "envelope" }
  /** The non-extensible BODYSTRUCTURE. */
  | { kind: "body" }
  | { kind: "bodystructure" }
  /** RFC 7162 §3.1.4.1. */
  | { kind: "modseq" }
  | { kind: "body-section"; section: Section; partial: Partial | null; peek: boolean }
  /** RFC 3516: the part's content with its transfer encoding removed. */
  | { kind: "binary"; part: number[]; partial: Partial | null; peek: boolean }
  | { kind: "binary.size"; part: number[] }
  /** RFC 3501: BODY[] (sets \Seen), BODY.PEEK[HEADER], BODY[TEXT] (sets \Seen), named as such. */
  | { kind: "rfc822" }
  | { kind: "rfc822.header" }
  | { kind: "rfc822.text" }
  /** RFC 8474 §5. */
  | { kind: "emailid" }
  | { kind: "threadid" }
  /** RFC 8514 §3. */
  | { kind: "savedate" }
  /** RFC 8970 §3: `lazy` answers NIL rather than computing a preview that was not stored. */
  | { kind: "preview"; lazy: boolean };

export interface FetchModifiers {
  /** RFC 7162 §3.1.4.1: only messages whose modseq is greater. */
  changedSince: bigint | null;
  /** RFC 7162 §3.2.6: report expunged UIDs as VANISHED (EARLIER); needs CHANGEDSINCE and UID FETCH. */
  vanished: boolean;
  /** RFC 9394 §3.3: only the messages of the set at these positions (from the lowest, or with `-` the highest). */
  partial: PartialRange | null;
}

export interface FetchRequest {
  items: FetchItem[];
  modifiers: FetchModifiers;
}

// ---------------------------------------------------------------------------------------------
// Parsing, on the command's ArgumentReader (positioned after "FETCH <sequence-set> ").

/** RFC 9051 §6.4.5 macros; they stand alone, never inside a list. */
const MACROS: Record<string, FetchItem["kind"][]> = {
  ALL: ["flags", "internaldate", "rfc822.size", "envelope"],
  FAST: ["flags", "internaldate", "rfc822.size"],
  FULL: ["flags", "internaldate", "rfc822.size", "envelope", "body"],
};

/** Items named by one word alone. */
const SIMPLE_ITEMS: Record<string, FetchItem> = {
  FLAGS: { kind: "flags" },
  UID: { kind: "uid" },
  INTERNALDATE: { kind: "internaldate" },
  "RFC822.SIZE": { kind: "rfc822.size" },
  ENVELOPE: { kind: "envelope" },
  BODY: { kind: "body" },
  BODYSTRUCTURE: { kind: "bodystructure" },
  MODSEQ: { kind: "modseq" },
  RFC822: { kind: "rfc822" },
  "RFC822.HEADER": { kind: "rfc822.header" },
  "RFC822.TEXT": { kind: "rfc822.text" },
  EMAILID: { kind: "emailid" },
  THREADID: { kind: "threadid" },
  SAVEDATE: { kind: "savedate" },
};

/** Part numbers of a section: nz-number *("." nz-number); each below 2^32. */
const PART_NUMBER = /^[1-9][0-9]{0,9}$/;
const MAX_PART_NUMBER = 0xffffffff;
/** Sections nested deeper than this cannot exist in a stored message (mime-tree depth limit is 32). */
const MAX_PART_DEPTH = 100;

/** section-spec text between "[" and "]" up to any header-list: "1.2.HEADER.FIELDS", "TEXT", "3". */
function splitSectionWords(args: ArgumentReader, spec: string): { part: number[]; rest: string } {
  const words = spec.split(".");
  const part: number[] = [];
  let index = 0;
  for (; index < words.length; index++) {
    const word = words[index] ?? "";
    if (!/^[0-9]+$/.test(word)) break;
    if (!PART_NUMBER.test(word) || Number(word) > MAX_PART_NUMBER) throw args.error(`invalid part number "${word}"`);
    part.push(Number(word));
  }
  if (part.length > MAX_PART_DEPTH) throw args.error("section nested too deeply");
  return { part, rest: words.slice(index).join(".").toUpperCase() };
}

/** RFC 5322 §3.6.8: field-name = 1*ftext, printable ASCII but ":"; anything else cannot match. */
const FIELD_NAME = /^[!-9;-~]+$/;

function headerFieldName(args: ArgumentReader): string {
  const name = args.astring();
  if (!FIELD_NAME.test(name)) throw args.error("invalid header field name");
  return name;
}

/** section = "[" [section-spec] "]" (the "[" not yet read). */
function readSection(args: ArgumentReader): Section {
  args.expectChar("[");
  const spec = args.takeWhile(/[A-Za-z0-9.]/);
  const { part, rest } = splitSectionWords(args, spec);
  let text: SectionText;
  if (rest === "" && !spec.endsWith(".")) text = { kind: "all" };
  else if (rest === "HEADER") text = { kind: "header" };
  else if (rest === "TEXT") text = { kind: "text" };
  else if (rest === "MIME" && part.length > 0) text = { kind: "mime" };
  else if (rest === "HEADER.FIELDS" || rest === "HEADER.FIELDS.NOT") {
    args.space();
    const names = args.list(() => headerFieldName(args), false);
    text = { kind: "header-fields", names, not: rest.endsWith(".NOT") };
  } else throw args.error(`invalid section "${spec}"`);
  args.expectChar("]");
  return { part, text };
}

/** section-binary = "[" [section-part] "]" */
function readBinarySection(args: ArgumentReader): number[] {
  args.expectChar("[");
  const spec = args.takeWhile(/[A-Za-z0-9.]/);
  const { part, rest } = splitSectionWords(args, spec);
  if (rest !== "" || spec.endsWith(".")) throw args.error(`invalid binary section "${spec}"`);
  args.expectChar("]");
  return part;
}

/** partial = "<" number64 "." nz-number64 ">", when next. */
function readPartial(args: ArgumentReader): Partial | null {
  if (!args.takeChar("<")) return null;
  const start = args.number64();
  args.expectChar(".");
  const length = args.number64();
  if (length === 0n) throw args.error("partial length must not be zero");
  args.expectChar(">");
  // Octet counts past 2^53 cannot address any stored message: clamping keeps them exact enough.
  const clamp = (n: bigint): number => (n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n));
  return { start: clamp(start), length: clamp(length) };
}

const readWord = (args: ArgumentReader): string => args.takeWhile(/[A-Za-z0-9.]/).toUpperCase();

/** One fetch-att whose leading word has been read. */
function readFetchAtt(args: ArgumentReader, word: string): FetchItem {
  if (word === "") throw args.error("expected a fetch attribute");
  if (word === "PREVIEW") return readPreview(args);
  const bracket = args.peekChar() === "[";
  if (!bracket) {
    const simple = SIMPLE_ITEMS[word];
    if (simple !== undefined) return { ...simple };
    throw args.error(`unknown fetch attribute "${word}"`);
  }
  switch (word) {
    case "BODY":
    case "BODY.PEEK": {
      const section = readSection(args);
      return { kind: "body-section", section, partial: readPartial(args), peek: word === "BODY.PEEK" };
    }
    case "BINARY":
    case "BINARY.PEEK": {
      const part = readBinarySection(args);
      return { kind: "binary", part, partial: readPartial(args), peek: word === "BINARY.PEEK" };
    }
    case "BINARY.SIZE":
      return { kind: "binary.size", part: readBinarySection(args) };
    default:
      throw args.error(`unknown fetch attribute "${word}"`);
  }
}

/**
 * RFC 8970 §7: "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"], preview-mod = "LAZY". The
 * modifier list is told from the next fetch-att by its "(" (no fetch-att starts with one), and from
 * the command's fetch-modifiers (`FETCH 1 PREVIEW (CHANGEDSINCE 5)`) by its LAZY.
 */
function readPreview(args: ArgumentReader): FetchItem {
  let lazy = false;
  if (args.peekAhead(" (LAZY")) {
    args.space();
    args.list(() => {
      const mod = args.takeWhile(/[A-Za-z0-9-]/).toUpperCase();
      if (mod !== "LAZY") throw args.error(`unknown PREVIEW modifier "${mod.slice(0, 30)}"`);
      if (lazy) throw args.error("LAZY given twice");
      lazy = true;
    }, false);
  }
  return { kind: "preview", lazy };
}

/** fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")" (RFC 4466 §2.4, RFC 7162). */
function readModifiers(args: ArgumentReader): FetchModifiers {
  const modifiers: FetchModifiers = { changedSince: null, vanished: false, partial: null };
  if (args.atEnd()) return modifiers;
  args.space();
  const seen = new Set<string>();
  args.list(() => {
    const name = args.takeWhile(/[A-Za-z0-9-]/).toUpperCase();
    if (seen.has(name)) throw args.error(`${name} given twice`);
    seen.add(name);
    if (name === "CHANGEDSINCE") {
      args.space();
      modifiers.changedSince = args.number64();
    } else if (name === "VANISHED") modifiers.vanished = true;
    else if (name === "PARTIAL") {
      args.space();
      modifiers.partial = parsePartialRange(args);
    }
    else throw args.error(`unknown FETCH modifier "${name}"`);
  }, false);
  // RFC 7162 §3.2.6: VANISHED is only valid together with CHANGEDSINCE.
  if (modifiers.vanished && modifiers.changedSince === null) throw args.error("VANISHED requires CHANGEDSINCE");
  return modifiers;
}

/**
 * The attributes and modifiers of FETCH, up to the end of the command. Under UID FETCH the UID
 * item is always present (RFC 9051 §6.4.9), first unless the client placed it.
 */
export function readFetchRequest(args: ArgumentReader, byUid: boolean): FetchRequest {
  let items: FetchItem[];
  if (args.peekChar() === "(") items = args.list(() => readFetchAtt(args, readWord(args)), false);
  else {
    const word = readWord(args);
    const macro = MACROS[word];
    items = macro === undefined ? [readFetchAtt(args, word)] : macro.map((kind) => ({ kind }) as FetchItem);
  }
  const modifiers = readModifiers(args);
  args.end();
  if (byUid && !items.some((item) => item.kind === "uid")) items.unshift({ kind: "uid" });
  return { items, modifiers };
}

// ---------------------------------------------------------------------------------------------
// Response names (RFC 9051 §7.5.2 msg-att-static): "BODY[1.2.HEADER.FIELDS (From To)]<0>".

/** ATOM-CHAR of RFC 9051 §9 (no "(", ")", "{", SP, CTL, "%", "*", DQUOTE, "\\", "]"). */
const ATOM = /^[^(){ \x00-\x1f\x7f%*"\\\]]+$/;

/** A header field name as echoed in a response: an atom when it can be, else a quoted string. */
function formatFieldName(name: string): string {
  return ATOM.test(name) ? name : `"${name.replace(/(["\\])/g, "\\$1")}"`;
}

/** section-spec as written back: "", "TEXT", "1.2", "3.HEADER.FIELDS.NOT (Received)". */
export function formatSection(section: Section): string {
  const words = section.part.map(String);
  const { text } = section;
  if (text.kind === "header") words.push("HEADER");
  else if (text.kind === "text") words.push("TEXT");
  else if (text.kind === "mime") words.push("MIME");
  else if (text.kind === "header-fields") {
    words.push(text.not ? "HEADER.FIELDS.NOT" : "HEADER.FIELDS");
    return `${words.join(".")} (${text.names.map(formatFieldName).join(" ")})`;
  }
  return words.join(".");
}

/** The partial suffix of a response name: "<start>" (RFC 9051 §7.5.2), or "". */
export const formatPartialOrigin = (partial: Partial | null): string => (partial === null ? "" : `<${partial.start}>`);
