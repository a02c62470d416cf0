// POP3 command lines (RFC 1939 §3, RFC 2449 §3) → a typed Pop3Command, or a syntax error the
// session answers with -ERR. Pure: no state, no I/O. The keyword is case-insensitive; arguments
// are separated by spaces. Every number is checked here, so the session never sees NaN, a negative
// value or a count that would overflow: "RETR 99999999999999999999" is a syntax error, not a crash.
import { isUtf8 } from "node:buffer";

export type Pop3Command =
  | { readonly kind: "USER"; readonly name: string }
  | { readonly kind: "PASS"; readonly password: string }
  | { readonly kind: "APOP" }
  | { readonly kind: "AUTH"; readonly mechanism: string | null; readonly initialResponse: string | null }
  | { readonly kind: "STAT" }
  | { readonly kind: "LIST"; readonly message: number | null }
  | { readonly kind: "RETR"; readonly message: number }
  | { readonly kind: "DELE"; readonly message: number }
  | { readonly kind: "NOOP" }
  | { readonly kind: "RSET" }
  | { readonly kind: "QUIT" }
  | { readonly kind: "TOP"; readonly message: number; readonly lines: number }
  | { readonly kind: "UIDL"; readonly message: number | null }
  | { readonly kind: "CAPA" }
  | { readonly kind: "STLS" };

export type Pop3Keyword = Pop3Command["kind"];

export type Pop3SyntaxError = {
  readonly kind: "syntax-error";
  readonly reason: "empty" | "unknown-command" | "bad-arguments" | "number-out-of-range" | "too-long" | "invalid-utf8";
  readonly message: string;
};

/** Largest message number or TOP line count accepted; far beyond any real maildrop. */
export const MAX_POP3_NUMBER = 2 ** 31 - 1;

// RFC 2449 §4: a command line is at most 255 octets including CRLF; an argument at most 40.
// Passwords and SASL initial responses are longer in practice, so only the line limit is applied.
const DIGITS = /^[0-9]+$/;

const NO_ARGUMENTS = new Set<Pop3Keyword>(["STAT", "NOOP", "RSET", "QUIT", "CAPA", "STLS"]);

export interface ParseOptions {
  /** Longest line content in octets, CRLF excluded. */
  readonly maxLineOctets: number;
}

/** Parses one command line (without its line end). */
export function parsePop3Command(line: Buffer, options: ParseOptions): Pop3Command | Pop3SyntaxError {
  if (line.length > options.maxLineOctets) return syntaxError("too-long", "line too long");
  if (!isUtf8(line)) return syntaxError("invalid-utf8", "command is not valid UTF-8");
  const text = line.toString("utf8");
  const trimmed = text.replace(/[ \t]+$/, "");
  if (trimmed === "") return syntaxError("empty", "empty command");
  const space = trimmed.indexOf(" ");
  const keyword = (space < 0 ? trimmed : trimmed.slice(0, space)).toUpperCase();
  const rest = space < 0 ? "" : trimmed.slice(space + 1);
  const args = rest === "" ? [] : rest.split(/ +/);

  if (!isKeyword(keyword)) return syntaxError("unknown-command", "unknown command");
  if (NO_ARGUMENTS.has(keyword)) return args.length === 0 ? ({ kind: keyword } as Pop3Command) : badArguments(keyword);
  switch (keyword) {
    case "USER":
      return args.length === 1 ? { kind: "USER", name: args[0]! } : badArguments(keyword);
    case "PASS":
      // RFC 1939 §7 gives PASS one argument, but passwords may contain spaces: everything after
      // the single separating space is the password (as Dovecot and Cyrus read it).
      return space < 0 || rest === "" ? badArguments(keyword) : { kind: "PASS", password: text.slice(space + 1) };
    case "APOP":
      return { kind: "APOP" };
    case "AUTH":
      // RFC 5034 §4: AUTH mechanism [initial-response]; AUTH alone lists the mechanisms.
      if (args.length > 2) return badArguments(keyword);
      return { kind: "AUTH", mechanism: args[0] ?? null, initialResponse: args[1] ?? null };
    case "LIST":
    case "UIDL": {
      if (args.length > 1) return badArguments(keyword);
      if (args.length === 0) return { kind: keyword, message: null };
      const message = parseNumber(args[0]!);
      return typeof message === "number" ? { kind: keyword, message } : message;
    }
    case "RETR":
    case "DELE": {
      if (args.length !== 1) return badArguments(keyword);
      const message = parseNumber(args[0]!);
      return typeof message === "number" ? { kind: keyword, message } : message;
    }
    case "TOP": {
      // RFC 1939 §7: TOP msg n, both required; n may be 0 (headers only).
      if (args.length !== 2) return badArguments(keyword);
      const message = parseNumber(args[0]!);
      if (typeof message !== "number") return message;
      const lines = parseNumber(args[1]!);
      return typeof lines === "number" ? { kind: "TOP", message, lines } : lines;
    }
    default:
      return badArguments(keyword);
  }
}

const KEYWORDS: ReadonlySet<string> = new Set<Pop3Keyword>(["USER", "PASS", "APOP", "AUTH", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "QUIT", "TOP", "UIDL", "CAPA", "STLS"]);

function isKeyword(word: string): word is Pop3Keyword {
  return KEYWORDS.has(word);
}

function parseNumber(text: string): number | Pop3SyntaxError {
  if (!DIGITS.test(text)) return syntaxError("bad-arguments", "invalid number");
  // Leading zeros are allowed ("RETR 007"), but the digits that matter are bounded first, so a
  // thousand-digit argument is never handed to Number().
  const significant = text.replace(/^0+(?=.)/, "");
  if (significant.length > 10) return syntaxError("number-out-of-range", "number out of range");
  const value = Number(significant);
  return value > MAX_POP3_NUMBER ? syntaxError("number-out-of-range", "number out of range") : value;
}

function badArguments(keyword: Pop3Keyword): Pop3SyntaxError {
  return syntaxError("bad-arguments", `wrong arguments for ${keyword}`);
}

function syntaxError(reason: Pop3SyntaxError["reason"], message: string): Pop3SyntaxError {
  return { kind: "syntax-error", reason, message };
}
