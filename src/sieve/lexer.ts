// The Sieve lexical grammar (RFC 5228 §2.2-§2.4, §8.1): identifiers, tags, numbers with K/M/G
// quantifiers, quoted strings, multi-line "text:" strings, comments and punctuation. Every token
// keeps its line:column so the parser can point at it. Linear in the script; the caller bounds
// the script's size (sieve.max_script_bytes).
import { SieveSyntaxError, type Position } from "./errors.js";

export type Token =
  | { readonly kind: "identifier"; readonly value: string; readonly pos: Position }
  | { readonly kind: "tag"; readonly value: string; readonly pos: Position }
  | { readonly kind: "number"; readonly value: number; readonly pos: Position }
  | { readonly kind: "string"; readonly value: string; readonly multiline: boolean; readonly pos: Position }
  | { readonly kind: "punct"; readonly value: "[" | "]" | "(" | ")" | "," | ";" | "{" | "}"; readonly pos: Position }
  | { readonly kind: "eof"; readonly pos: Position };

const QUANTIFIERS: Record<string, number> = { K: 1024, M: 1024 * 1024, G: 1024 * 1024 * 1024 };
/** RFC 5228 §8.1 numbers are unsigned 31-bit at least; we keep them within 2^53 and refuse more. */
const MAX_NUMBER = Number.MAX_SAFE_INTEGER;

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const pos = (at: number): Position => ({ line, column: at - lineStart + 1 });
  const fail = (at: number, reason: string): never => {
    throw new SieveSyntaxError(pos(at), reason);
  };
  const newline = (at: number): void => {
    line++;
    lineStart = at + 1;
  };
  while (i < source.length) {
    const c = source[i]!;
    if (c === "\n") {
      newline(i);
      i++;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") {
      i++;
      continue;
    }
    if (c === "#") {
      while (i < source.length && source[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && source[i + 1] === "*") {
      const start = i;
      const startPos = pos(i);
      i += 2;
      for (;;) {
        if (i >= source.length) throw new SieveSyntaxError(startPos, "unterminated comment: expected */");
        if (source[i] === "*" && source[i + 1] === "/") {
          i += 2;
          break;
        }
        if (source[i] === "\n") newline(i);
        i++;
      }
      void start;
      continue;
    }
    if ("[](),;{}".includes(c)) {
      tokens.push({ kind: "punct", value: c as "[", pos: pos(i) });
      i++;
      continue;
    }
    if (c === '"') {
      const startPos = pos(i);
      i++;
      let value = "";
      for (;;) {
        if (i >= source.length) throw new SieveSyntaxError(startPos, 'unterminated string: expected closing "');
        const d = source[i]!;
        if (d === '"') {
          i++;
          break;
        }
        if (d === "\\") {
          // RFC 5228 §2.4.2: backslash escapes the next character, whatever it is.
          const next = source[i + 1];
          if (next === undefined) throw new SieveSyntaxError(startPos, 'unterminated string: expected closing "');
          if (next === "\n") newline(i + 1);
          value += next;
          i += 2;
          continue;
        }
        if (d === "\n") newline(i);
        value += d;
        i++;
      }
      tokens.push({ kind: "string", value, multiline: false, pos: startPos });
      continue;
    }
    if (c === ":") {
      const startPos = pos(i);
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i + 1, i + 1 + 256));
      if (!m) fail(i, "expected a tag name after ':'");
      tokens.push({ kind: "tag", value: m![0].toLowerCase(), pos: startPos });
      i += 1 + m![0].length;
      continue;
    }
    if (c >= "0" && c <= "9") {
      const startPos = pos(i);
      let j = i;
      while (j < source.length && source[j]! >= "0" && source[j]! <= "9") j++;
      let value = Number(source.slice(i, j));
      const q = source[j]?.toUpperCase();
      if (q !== undefined && q in QUANTIFIERS) {
        value *= QUANTIFIERS[q]!;
        j++;
      }
      if (!Number.isSafeInteger(value) || value > MAX_NUMBER) fail(i, "number too large");
      tokens.push({ kind: "number", value, pos: startPos });
      i = j;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const startPos = pos(i);
      let j = i;
      while (j < source.length && /[A-Za-z0-9_]/.test(source[j]!)) j++;
      const word = source.slice(i, j);
      if (word.toLowerCase() === "text" && source[j] === ":") {
        // RFC 5228 §2.4.2 multi-line string: "text:" whitespace/comment to end of line, then lines
        // up to a line holding only ".", with dot-stuffing removed.
        j++;
        while (j < source.length && (source[j] === " " || source[j] === "\t")) j++;
        if (source[j] === "#") while (j < source.length && source[j] !== "\n") j++;
        if (source[j] === "\r") j++;
        if (source[j] !== "\n") fail(j, "expected end of line after text:");
        newline(j);
        j++;
        const lines: string[] = [];
        for (;;) {
          if (j >= source.length) throw new SieveSyntaxError(startPos, "unterminated multi-line string: expected a line with a single '.'");
          let end = source.indexOf("\n", j);
          if (end < 0) end = source.length;
          let text = source.slice(j, end);
          if (text.endsWith("\r")) text = text.slice(0, -1);
          if (end < source.length) newline(end);
          j = end + 1;
          if (text === ".") break;
          lines.push(text.startsWith("..") ? text.slice(1) : text);
        }
        tokens.push({ kind: "string", value: lines.map((l) => l + "\r\n").join(""), multiline: true, pos: startPos });
        i = j;
        continue;
      }
      tokens.push({ kind: "identifier", value: word.toLowerCase(), pos: startPos });
      i = j;
      continue;
    }
    fail(i, `unexpected character ${JSON.stringify(c)}`);
  }
  tokens.push({ kind: "eof", pos: pos(i) });
  return tokens;
}
