// BODY[HEADER.FIELDS (...)] and BODY[HEADER.FIELDS.NOT (...)] (RFC 9051 §6.4.5): a streaming
// filter over the bytes of one header block. Matching fields are passed on with their original
// bytes (folding, line ends and all); the blank line that ends the block is always kept, and
// nothing is kept after it. Memory is bounded by one field name, however long the header is.
//
// A field starts at a line that does not begin with whitespace; its name is what precedes the
// colon, trailing whitespace removed (RFC 5322 §4.5.3 allows "Subject :"). A line without a colon
// is not a field: it is dropped by both forms, with its continuation lines.

import { Transform, type TransformCallback } from "node:stream";

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
/** RFC 5322 §2.1.1 line limit: a longer "name" cannot be a field name. */
const MAX_NAME = 998;

type Mode = "line-start" | "name" | "blank-cr" | "value" | "done";

export class HeaderFieldFilter extends Transform {
  private readonly names: Set<string>;
  private readonly exclude: boolean;
  private mode: Mode = "line-start";
  private keep = false;
  /** Octets of the current line while its name is not yet known. */
  private pending: number[] = [];

  /** `names` are matched ASCII-case-insensitively; `exclude` selects the HEADER.FIELDS.NOT form. */
  constructor(names: readonly string[], exclude: boolean) {
    super();
    this.names = new Set(names.map((name) => name.toLowerCase()));
    this.exclude = exclude;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const out: number[] = [];
    let runStart = -1;
    const flushRun = (end: number): void => {
      if (runStart >= 0 && end > runStart) for (let j = runStart; j < end; j++) out.push(chunk[j] ?? 0);
      runStart = -1;
    };
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i] ?? 0;
      switch (this.mode) {
        case "done":
          break;
        case "line-start":
          if (byte === SP || byte === HTAB) {
            // A continuation line belongs to the field before it.
            this.mode = "value";
            if (this.keep) out.push(byte);
          } else if (byte === LF) {
            out.push(byte);
            this.mode = "done";
          } else if (byte === CR) {
            this.mode = "blank-cr";
          } else {
            this.pending = [byte];
            this.mode = "name";
          }
          break;
        case "blank-cr":
          if (byte === LF) {
            // RFC 9051 §6.4.5: the blank line between header and body is part of every header fetch.
            out.push(CR, LF);
            this.mode = "done";
          } else {
            this.pending = [CR, byte];
            this.mode = byte === COLON ? "value" : "name";
            if (byte === COLON) this.decide();
          }
          break;
        case "name":
          this.pending.push(byte);
          if (byte === COLON) {
            this.decide();
            for (const b of this.pending) if (this.keep) out.push(b);
            this.pending = [];
            this.mode = "value";
          } else if (byte === LF) {
            // A line without a colon is not a field.
            this.keep = false;
            this.pending = [];
            this.mode = "line-start";
          } else if (this.pending.length > MAX_NAME) {
            this.keep = false;
            this.pending = [];
            this.mode = "value";
          }
          break;
        case "value":
          if (this.keep && runStart < 0) runStart = i;
          if (byte === LF) {
            flushRun(i + 1);
            this.mode = "line-start";
          }
          break;
      }
    }
    if (this.mode === "value") flushRun(chunk.length);
    callback(null, out.length === 0 ? undefined : Buffer.from(out));
  }

  /** The name is `pending` up to its colon: is this field passed on? */
  private decide(): void {
    let end = this.pending.length - 1;
    while (end > 0 && (this.pending[end - 1] === SP || this.pending[end - 1] === HTAB)) end--;
    const name = Buffer.from(this.pending.slice(0, end)).toString("latin1").toLowerCase();
    const valid = end > 0 && /^[!-9;-~]+$/.test(name);
    this.keep = valid && this.names.has(name) !== this.exclude;
  }
}
