// A strict reader of IMAP response data (RFC 9051 §4, §9) into plain values, for comparing what
// two servers sent: lists become arrays, NIL null, numbers numbers, quoted strings and literals
// (literal8 too) strings decoded as UTF-8, atoms { atom }. It enforces the grammar points a strict
// client depends on (exactly one SP between list items, none after "(" or before ")", none
// between the part bodies of a multipart, which the caller checks) by refusing anything else.

export type ParsedValue = null | number | string | { atom: string } | ParsedValue[];

/** What stood between each two items of a parsed list: " " or "" (see checkBodyGrammar). */
const separators = new WeakMap<ParsedValue[], string[]>();

export class ImapValueReader {
  private pos = 0;
  constructor(private readonly bytes: Buffer) {}

  get offset(): number {
    return this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.bytes.length;
  }

  peek(): number | undefined {
    return this.bytes[this.pos];
  }

  expect(text: string): void {
    const got = this.bytes.toString("latin1", this.pos, this.pos + text.length);
    if (got !== text) throw new Error(`expected ${JSON.stringify(text)} at ${this.pos}, got ${JSON.stringify(got)}`);
    this.pos += text.length;
  }

  /** One value; inside lists, items must be separated by exactly one SP. */
  value(): ParsedValue {
    const c = this.peek();
    if (c === undefined) throw new Error("unexpected end of input");
    if (c === 0x28) return this.list();
    if (c === 0x22) return this.quoted();
    if (c === 0x7b || (c === 0x7e && this.bytes[this.pos + 1] === 0x7b)) return this.literal();
    const start = this.pos;
    while (this.pos < this.bytes.length && !" ()\r\n".includes(String.fromCharCode(this.bytes[this.pos] as number))) {
      // A section spec such as BODY[HEADER.FIELDS (A B)] holds a list inside brackets.
      if (this.bytes[this.pos] === 0x5b) {
        const close = this.bytes.indexOf(0x5d, this.pos);
        if (close < 0) throw new Error("unterminated [");
        this.pos = close;
      }
      this.pos++;
    }
    const token = this.bytes.toString("latin1", start, this.pos);
    if (token.length === 0) throw new Error(`unexpected ${JSON.stringify(String.fromCharCode(c))} at ${start}`);
    if (token.toUpperCase() === "NIL") return null;
    if (/^\d+$/.test(token)) return Number(token);
    return { atom: token };
  }

  /**
   * A list. Items are separated by one SP, or by nothing where a list follows a list (as the
   * part bodies of a multipart do); which one is recorded for checkBodyGrammar.
   */
  list(): ParsedValue[] {
    this.expect("(");
    const items: ParsedValue[] = [];
    const between: string[] = [];
    separators.set(items, between);
    if (this.peek() === 0x29) {
      this.pos++;
      return items;
    }
    for (;;) {
      items.push(this.value());
      const c = this.peek();
      if (c === 0x29) {
        this.pos++;
        return items;
      }
      if (c === 0x28 && Array.isArray(items[items.length - 1])) {
        between.push("");
        continue;
      }
      this.expect(" ");
      between.push(" ");
      if (this.peek() === 0x20 || this.peek() === 0x29) throw new Error(`extra space at ${this.pos}`);
    }
  }

  private quoted(): string {
    this.expect('"');
    const out: number[] = [];
    for (;;) {
      const c = this.bytes[this.pos++];
      if (c === undefined) throw new Error("unterminated quoted string");
      if (c === 0x22) return Buffer.from(out).toString("utf8");
      if (c === 0x5c) out.push(this.bytes[this.pos++] as number);
      else out.push(c);
    }
  }

  private literal(): string {
    if (this.peek() === 0x7e) this.pos++;
    this.expect("{");
    const close = this.bytes.indexOf("}", this.pos, "latin1");
    const size = Number(this.bytes.toString("latin1", this.pos, close));
    this.pos = close + 1;
    this.expect("\r\n");
    const text = this.bytes.toString("utf8", this.pos, this.pos + size);
    this.pos += size;
    return text;
  }
}

/**
 * The items of one `* n FETCH (...)` response as name -> value, e.g. { BODYSTRUCTURE: [...] }.
 * Throws when the text is not exactly one well-formed FETCH response.
 */
export function parseFetchResponse(response: Buffer): Record<string, ParsedValue> {
  const reader = new ImapValueReader(response);
  reader.expect("* ");
  const seq = reader.value();
  if (typeof seq !== "number") throw new Error("no message number");
  reader.expect(" FETCH ");
  const items = reader.list();
  reader.expect("\r\n");
  if (!reader.atEnd()) throw new Error(`text after the FETCH response at ${reader.offset}`);
  const out: Record<string, ParsedValue> = {};
  for (let i = 0; i + 1 < items.length; i += 2) {
    const name = items[i];
    if (name === null || typeof name !== "object" || Array.isArray(name)) throw new Error(`item name expected, got ${JSON.stringify(name)}`);
    out[name.atom.toUpperCase()] = items[i + 1] as ParsedValue;
  }
  return out;
}

/**
 * Checks the separators of a parsed BODY or BODYSTRUCTURE against RFC 9051 §9: between the part
 * bodies of a multipart nothing (body-type-mpart = 1*body SP media-subtype), everywhere else one
 * SP; recursively, through message/rfc822 parts too. Returns the first violation or null.
 */
export function checkBodyGrammar(body: ParsedValue, path = "body"): string | null {
  if (!Array.isArray(body)) return `${path} is not a list`;
  const between = separators.get(body) ?? [];
  const bodies = body.findIndex((item) => !Array.isArray(item));
  if (bodies > 0) {
    for (let i = 0; i < between.length; i++) {
      const want = i < bodies - 1 ? "" : " ";
      if (between[i] !== want) return `${path}: ${JSON.stringify(between[i])} after item ${i + 1}, RFC 9051 §9 wants ${JSON.stringify(want)}`;
    }
    for (let i = 0; i < bodies; i++) {
      const inner = checkBodyGrammar(body[i] as ParsedValue, `${path}.${i + 1}`);
      if (inner !== null) return inner;
    }
    return null;
  }
  if (between.some((s) => s !== " ")) return `${path}: items not separated by SP`;
  const isMessage = typeof body[0] === "string" && body[0].toLowerCase() === "message" && Array.isArray(body[8]);
  return isMessage ? checkBodyGrammar(body[8] as ParsedValue, `${path}.message`) : null;
}
