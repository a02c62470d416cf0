// Typed IMAP response data (RFC 9051 §4, §7): what FETCH renderers, LIST, STATUS and every
// other command build, before the encoder (response.ts) turns it into bytes. Keeping the value
// apart from its encoding lets a renderer be tested without a wire, and lets the encoder choose
// quoted vs literal, and stream large literals with back-pressure instead of buffering them.
import type { Readable } from "node:stream";

export type ImapValue =
  /** An atom or other bare token written as is (flags, keywords, section specs, `NIL` is separate). */
  | { kind: "atom"; value: string }
  | { kind: "number"; value: number | bigint }
  /** A string the encoder writes as a quoted string when it can, else as a literal. */
  | { kind: "string"; value: string | Buffer }
  /** Always a literal: message bytes. `binary` writes literal8 (`~{n}`, RFC 3516). */
  | { kind: "literal"; size: number; bytes: Buffer | (() => Readable); binary?: boolean }
  /**
   * A parenthesised list, items separated by SP, except that the first `adjacent` items follow
   * each other with nothing between them: RFC 9051 §9 body-type-mpart = 1*body SP media-subtype
   * writes a multipart's part bodies back to back, `((...)(...) "MIXED")`.
   */
  | { kind: "list"; items: ImapValue[]; adjacent?: number }
  | { kind: "nil" }
  /**
   * A value already encoded by encodeValue (response.ts), as the string whose UTF-8 form is its
   * wire bytes, written as is: ENVELOPE and BODYSTRUCTURE precomputed at delivery
   * (store/imap-items.ts), so FETCH renders nothing and joins them with the rest of the line.
   */
  | { kind: "encoded"; text: string };

export const atom = (value: string): ImapValue => ({ kind: "atom", value });
export const num = (value: number | bigint): ImapValue => ({ kind: "number", value });
export const str = (value: string | Buffer): ImapValue => ({ kind: "string", value });
/** A string or NIL. */
export const nstr = (value: string | Buffer | null | undefined): ImapValue => (value === null || value === undefined ? NIL : str(value));
export const list = (items: ImapValue[]): ImapValue => ({ kind: "list", items });
/** A list whose first `adjacent` items are written without SP between them (see ImapValue). */
export const listWithAdjacent = (items: ImapValue[], adjacent: number): ImapValue => ({ kind: "list", items, adjacent });
export const literal = (bytes: Buffer): ImapValue => ({ kind: "literal", size: bytes.length, bytes });
export const streamedLiteral = (size: number, open: () => Readable, binary = false): ImapValue => ({ kind: "literal", size, bytes: open, binary });
export const encoded = (text: string): ImapValue => ({ kind: "encoded", text });
export const NIL: ImapValue = Object.freeze({ kind: "nil" }) as ImapValue;
