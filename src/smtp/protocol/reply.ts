// SMTP replies (RFC 5321 §4.2) with RFC 2034 / RFC 3463 enhanced status codes: the value type, the
// wire encoder for the server, and an incremental parser for the outbound client. Pure.
import { fitOctets, stripControls } from "../../mail/reply-text.js";

export interface SmtpReply {
  /** Three-digit reply code, 200-599 (RFC 5321 §4.2). */
  readonly code: number;
  /** "class.subject.detail" (RFC 3463 §2), or null for replies that carry none. */
  readonly enhanced: string | null;
  /** Text lines, without the code, the enhanced code or CRLF. */
  readonly lines: readonly string[];
}

// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including the code and CRLF.
export const MAX_REPLY_LINE_OCTETS = 512;
const ENHANCED = /^([245])\.([0-9]{1,3})\.([0-9]{1,3})$/;
const ENHANCED_PREFIX = /^([245])\.([0-9]{1,3})\.([0-9]{1,3})(?: |$)/;

/** True when `enhanced` is a well-formed RFC 3463 code whose class matches the reply code. */
export function isEnhancedCodeFor(code: number, enhanced: string): boolean {
  const match = ENHANCED.exec(enhanced);
  return match !== null && match[1] === String(Math.floor(code / 100));
}

/**
 * Encodes a reply: "250-" on every line but the last, which gets "250 " (RFC 5321 §4.2.1), and the
 * enhanced code on each line (RFC 2034 §4). CR, LF and other control characters in the text are
 * removed, so text taken from a client can never end the reply early or inject another one.
 * Lines longer than the RFC 5321 §4.5.3.1.5 limit are cut at a character boundary.
 */
export function encodeReply(reply: SmtpReply): Buffer {
  if (!Number.isInteger(reply.code) || reply.code < 200 || reply.code > 599) {
    throw new RangeError(`invalid SMTP reply code ${reply.code}`);
  }
  if (reply.enhanced !== null && !isEnhancedCodeFor(reply.code, reply.enhanced)) {
    throw new RangeError(`enhanced code ${reply.enhanced} does not fit reply ${reply.code}`);
  }
  const lines = reply.lines.length === 0 ? [""] : reply.lines;
  const out: string[] = [];
  lines.forEach((text, index) => {
    const separator = index === lines.length - 1 ? " " : "-";
    const prefix = `${reply.code}${separator}${reply.enhanced === null ? "" : `${reply.enhanced} `}`;
    const body = fitOctets(stripControls(text), MAX_REPLY_LINE_OCTETS - 2 - prefix.length);
    // An empty text keeps the space after a bare code: RFC 4954 §4 defines an empty challenge as "334 ".
    const encoded = body === "" && reply.enhanced !== null ? prefix.slice(0, -1) : prefix + body;
    out.push(`${encoded}\r\n`);
  });
  return Buffer.from(out.join(""), "utf8");
}

export type ReplySyntaxReason = "malformed-line" | "code-mismatch" | "too-many-lines" | "line-too-long";

export interface ReplySyntaxError {
  readonly kind: "reply-syntax-error";
  readonly reason: ReplySyntaxReason;
  readonly message: string;
}

export interface ReplyParserOptions {
  /** Lines per reply before giving up (an EHLO reply has a few dozen at most). */
  readonly maxLines?: number;
  /** Octets per line; RFC 5321 §4.5.3.1.5 says 512, generous peers get some slack. */
  readonly maxLineOctets?: number;
}

export type ReplyParseStep = SmtpReply | ReplySyntaxError | null;

/**
 * Incremental reply parser for the client side: feed it one line at a time (CRLF optional) and it
 * returns null until the final line, then the whole reply. The enhanced code is taken from the
 * first line when its class matches the code (RFC 2034 §4) and stripped from every line that
 * repeats it. After a syntax error the peer is not speaking SMTP; the parser resets.
 */
export class ReplyParser {
  readonly #maxLines: number;
  readonly #maxLineOctets: number;
  #code: number | null = null;
  #lines: string[] = [];

  constructor(options: ReplyParserOptions = {}) {
    this.#maxLines = options.maxLines ?? 100;
    this.#maxLineOctets = options.maxLineOctets ?? 4096;
  }

  push(rawLine: string): ReplyParseStep {
    const line = rawLine.endsWith("\r\n") ? rawLine.slice(0, -2) : rawLine;
    if (Buffer.byteLength(line, "utf8") > this.#maxLineOctets) return this.#fail("line-too-long", "reply line too long");
    // RFC 5321 §4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF.
    const match = /^([2-5][0-9][0-9])(?:([- ])(.*))?$/s.exec(line);
    if (match === null || /[\r\n]/.test(line)) return this.#fail("malformed-line", "malformed reply line");
    const code = Number(match[1]);
    if (this.#code !== null && this.#code !== code) return this.#fail("code-mismatch", "reply code changed within a multi-line reply");
    this.#code = code;
    this.#lines.push(match[3] ?? "");
    if (match[2] === "-") {
      if (this.#lines.length >= this.#maxLines) return this.#fail("too-many-lines", "multi-line reply too long");
      return null;
    }
    const reply = withEnhancedCode(code, this.#lines);
    this.#code = null;
    this.#lines = [];
    return reply;
  }

  #fail(reason: ReplySyntaxReason, message: string): ReplySyntaxError {
    this.#code = null;
    this.#lines = [];
    return { kind: "reply-syntax-error", reason, message };
  }
}

function withEnhancedCode(code: number, lines: readonly string[]): SmtpReply {
  const first = ENHANCED_PREFIX.exec(lines[0] ?? "");
  const enhanced = first !== null && first[1] === String(Math.floor(code / 100)) ? `${first[1]}.${first[2]}.${first[3]}` : null;
  if (enhanced === null) return { code, enhanced, lines: [...lines] };
  const strip = (text: string): string => (text === enhanced ? "" : text.startsWith(`${enhanced} `) ? text.slice(enhanced.length + 1) : text);
  return { code, enhanced, lines: lines.map(strip) };
}

/** Parses a complete reply given as its lines. */
export function parseReply(lines: readonly string[], options: ReplyParserOptions = {}): SmtpReply | ReplySyntaxError {
  const parser = new ReplyParser(options);
  for (const [index, line] of lines.entries()) {
    const step = parser.push(line);
    if (step === null) continue;
    if ("kind" in step || index === lines.length - 1) return step;
    return { kind: "reply-syntax-error", reason: "malformed-line", message: "lines after the final reply line" };
  }
  return { kind: "reply-syntax-error", reason: "malformed-line", message: "reply has no final line" };
}
