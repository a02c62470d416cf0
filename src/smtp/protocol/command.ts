// SMTP command grammar (RFC 5321 §4.1.1 and the extensions Mailroom implements): one command line
// → a typed SmtpCommand, or a typed SmtpSyntaxError whose `reason` the session maps to a reply.
// Pure and linear-time: no backtracking regular expression sees unbounded input.
import { isUtf8 } from "node:buffer";
import { parseDomain, parseForwardPath, parseReversePath, type AddressError, type EnvelopeDomain, type ForwardPath, type ReversePath } from "../../mail/address.js";
import { parseMailParameters, parseRcptParameters, tokenizeParameters, type MailParameters, type ParameterError, type RcptParameters } from "./esmtp-parameters.js";

export type SmtpVerb = "HELO" | "EHLO" | "MAIL" | "RCPT" | "DATA" | "BDAT" | "RSET" | "NOOP" | "QUIT" | "VRFY" | "EXPN" | "HELP" | "STARTTLS" | "AUTH";

const VERBS: ReadonlySet<string> = new Set<SmtpVerb>(["HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT", "VRFY", "EXPN", "HELP", "STARTTLS", "AUTH"]);

export interface HelloCommand {
  readonly kind: "HELO" | "EHLO";
  /** The argument exactly as sent. */
  readonly identity: string;
  /**
   * The parsed Domain or address-literal (RFC 5321 §4.1.1.1), or null when the client sent
   * something else (a bare IP, an underscore, a UTF-8 name). Many real clients do, so the grammar
   * accepts it and leaves the verdict to policy.
   */
  readonly domain: EnvelopeDomain | null;
}

export interface MailCommand {
  readonly kind: "MAIL";
  readonly reversePath: ReversePath;
  readonly parameters: MailParameters;
}

export interface RcptCommand {
  readonly kind: "RCPT";
  readonly forwardPath: ForwardPath;
  readonly parameters: RcptParameters;
}

/** RFC 3030 §2: BDAT chunk-size [SP end-marker]. */
export interface BdatCommand {
  readonly kind: "BDAT";
  readonly size: number;
  readonly last: boolean;
}

/** NOOP, VRFY, EXPN and HELP carry free text (RFC 5321 §4.1.1.6-4.1.1.9). */
export interface TextCommand {
  readonly kind: "NOOP" | "VRFY" | "EXPN" | "HELP";
  readonly text: string;
}

export interface BareCommand {
  readonly kind: "DATA" | "RSET" | "QUIT" | "STARTTLS";
}

/** RFC 4954 §4: AUTH mechanism [initial-response]. */
export interface AuthCommand {
  readonly kind: "AUTH";
  /** Upper-cased SASL mechanism name (RFC 4422 §3.1). */
  readonly mechanism: string;
  /** The base64 initial response; "" for "=" (an empty response); null when absent. */
  readonly initialResponse: string | null;
}

export type SmtpCommand = HelloCommand | MailCommand | RcptCommand | BdatCommand | TextCommand | BareCommand | AuthCommand;

export type SmtpSyntaxReason =
  | "line-too-long"
  | "control-character"
  | "invalid-utf8"
  | "unrecognized"
  | "syntax"
  | "address"
  | ParameterError["reason"];

export interface SmtpSyntaxError {
  readonly kind: "syntax-error";
  readonly reason: SmtpSyntaxReason;
  /** The verb when it was recognised, so the reply can be specific. */
  readonly verb: SmtpVerb | null;
  readonly message: string;
  /** For reason "address": why the path was refused. */
  readonly address?: AddressError;
  /** For the parameter reasons: the keyword at fault, when known. */
  readonly keyword?: string | null;
}

export interface CommandOptions {
  /**
   * RFC 6531 §3.4: the current transaction's MAIL carried SMTPUTF8, so RCPT paths may be UTF-8.
   * A MAIL command's own path may be UTF-8 exactly when that MAIL carries SMTPUTF8.
   */
  readonly smtputf8?: boolean;
  /** Longest command line in octets (without CRLF); AUTH always gets at least 12288. */
  readonly maxLineOctets?: number;
}

// RFC 5321 §4.5.3.1.4 sets 512 octets, but every extension adds parameters (RFC 5321 §4.1.2
// notes the limit "may be increased"); 2048 is the common practice, as in Postfix's default.
export const DEFAULT_MAX_LINE_OCTETS = 2048;
// RFC 4954 §4: an AUTH command line may be up to 12288 octets.
export const AUTH_MAX_LINE_OCTETS = 12288;

const CONTROL = /[\x00-\x1f\x7f]/;

function syntaxError(reason: SmtpSyntaxReason, verb: SmtpVerb | null, message: string): SmtpSyntaxError {
  return { kind: "syntax-error", reason, verb, message };
}

/** Parses one command line (with or without its CRLF). Never throws on any input. */
export function parseCommand(line: string | Buffer, options: CommandOptions = {}): SmtpCommand | SmtpSyntaxError {
  const limit = options.maxLineOctets ?? DEFAULT_MAX_LINE_OCTETS;
  const hardLimit = Math.max(limit, AUTH_MAX_LINE_OCTETS) + 2;
  let text: string;
  if (typeof line === "string") {
    if (line.length > hardLimit) return syntaxError("line-too-long", null, "line too long");
    text = line;
  } else {
    if (line.length > hardLimit) return syntaxError("line-too-long", null, "line too long");
    if (!isUtf8(line)) return syntaxError("invalid-utf8", null, "command line is not UTF-8");
    text = line.toString("utf8");
  }
  if (text.endsWith("\r\n")) text = text.slice(0, -2);
  if (CONTROL.test(text)) return syntaxError("control-character", null, "control character in command line");
  text = trimTrailingSpaces(text);
  const space = text.indexOf(" ");
  const verbText = (space < 0 ? text : text.slice(0, space)).toUpperCase();
  if (!VERBS.has(verbText)) return syntaxError("unrecognized", null, "command unrecognized");
  const verb = verbText as SmtpVerb;
  const octets = Buffer.byteLength(text, "utf8");
  if (octets > (verb === "AUTH" ? Math.max(limit, AUTH_MAX_LINE_OCTETS) : limit)) {
    return syntaxError("line-too-long", verb, "line too long");
  }
  const argument = space < 0 ? null : text.slice(space + 1);
  return parseArguments(verb, argument, options);
}

function trimTrailingSpaces(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x20) end--;
  return text.slice(0, end);
}

function parseArguments(verb: SmtpVerb, argument: string | null, options: CommandOptions): SmtpCommand | SmtpSyntaxError {
  switch (verb) {
    case "HELO":
    case "EHLO":
      return parseHello(verb, argument);
    case "MAIL":
      return parseMail(argument);
    case "RCPT":
      return parseRcpt(argument, options.smtputf8 === true);
    case "BDAT":
      return parseBdat(argument);
    case "AUTH":
      return parseAuth(argument);
    case "DATA":
    case "RSET":
    case "QUIT":
    case "STARTTLS":
      // RFC 5321 §4.1.1.4-10, RFC 3207 §4: these take no argument.
      return argument === null ? { kind: verb } : syntaxError("syntax", verb, `${verb} takes no argument`);
    case "VRFY":
    case "EXPN":
      // RFC 5321 §4.1.1.6-7: the argument is required.
      if (argument === null || argument === "") return syntaxError("syntax", verb, `${verb} needs an argument`);
      return { kind: verb, text: argument };
    case "NOOP":
    case "HELP":
      return { kind: verb, text: argument ?? "" };
  }
}

// RFC 5321 §4.1.1.1: ehlo = "EHLO" SP ( Domain / address-literal ); one argument only.
function parseHello(verb: "HELO" | "EHLO", argument: string | null): HelloCommand | SmtpSyntaxError {
  if (argument === null || argument === "" || argument.includes(" ")) {
    return syntaxError("syntax", verb, `${verb} needs exactly one argument, a domain or address literal`);
  }
  const parsed = parseDomain(argument);
  return { kind: verb, identity: argument, domain: parsed.kind === "domain" ? { ascii: parsed.ascii, unicode: parsed.unicode, literal: parsed.literal } : null };
}

// RFC 5321 §4.1.1.2: "MAIL FROM:" Reverse-path [SP Mail-parameters].
function parseMail(argument: string | null): MailCommand | SmtpSyntaxError {
  const split = splitPathArgument("MAIL", "FROM:", argument);
  if (split.kind === "syntax-error") return split;
  const raw = tokenizeParameters(split.rest);
  if (!Array.isArray(raw)) return fromParameterError("MAIL", raw);
  // RFC 6531 §3.4: SMTPUTF8 on this MAIL is what permits UTF-8 in its own reverse-path.
  const utf8 = raw.some((parameter) => parameter.keyword === "SMTPUTF8");
  const parameters = parseMailParameters(raw, utf8);
  if ("kind" in parameters) return fromParameterError("MAIL", parameters);
  const reversePath = parseReversePath(split.path, { smtputf8: utf8 });
  if (reversePath.kind === "error") return addressError("MAIL", reversePath);
  return { kind: "MAIL", reversePath, parameters };
}

// RFC 5321 §4.1.1.3: "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path ) [SP Rcpt-parameters].
function parseRcpt(argument: string | null, utf8: boolean): RcptCommand | SmtpSyntaxError {
  const split = splitPathArgument("RCPT", "TO:", argument);
  if (split.kind === "syntax-error") return split;
  const raw = tokenizeParameters(split.rest);
  if (!Array.isArray(raw)) return fromParameterError("RCPT", raw);
  const parameters = parseRcptParameters(raw, utf8);
  if ("kind" in parameters) return fromParameterError("RCPT", parameters);
  const forwardPath = parseForwardPath(split.path, { smtputf8: utf8 });
  if (forwardPath.kind === "error") return addressError("RCPT", forwardPath);
  return { kind: "RCPT", forwardPath, parameters };
}

function addressError(verb: SmtpVerb, address: AddressError): SmtpSyntaxError {
  return { kind: "syntax-error", reason: "address", verb, message: address.message, address };
}

function fromParameterError(verb: SmtpVerb, error: ParameterError): SmtpSyntaxError {
  return { kind: "syntax-error", reason: error.reason, verb, message: error.message, keyword: error.keyword };
}

/**
 * Splits "FROM:<path> params" into the bracketed path and the parameter text. Spaces after the
 * colon are tolerated as Postfix does ("MAIL FROM: <a@b>" is common from older clients and is not
 * ambiguous); a path without angle brackets is refused.
 */
function splitPathArgument(verb: "MAIL" | "RCPT", prefix: string, argument: string | null): { kind: "split"; path: string; rest: string } | SmtpSyntaxError {
  const usage = `syntax: ${verb} ${prefix}<address> [parameters]`;
  if (argument === null || argument.slice(0, prefix.length).toUpperCase() !== prefix) return syntaxError("syntax", verb, usage);
  let start = prefix.length;
  while (argument.charCodeAt(start) === 0x20) start++;
  if (argument[start] !== "<") return syntaxError("syntax", verb, usage);
  const end = findPathEnd(argument, start);
  if (end < 0) return syntaxError("syntax", verb, usage);
  const path = argument.slice(start, end + 1);
  const after = argument.slice(end + 1);
  if (after !== "" && !after.startsWith(" ")) return syntaxError("syntax", verb, usage);
  return { kind: "split", path, rest: after.slice(1) };
}

// The path ends at the first ">" outside a Quoted-string: `<"a>b"@c>` is one path.
function findPathEnd(text: string, start: number): number {
  let quoted = false;
  for (let i = start + 1; i < text.length; i++) {
    const ch = text[i];
    if (quoted && ch === "\\") i++;
    else if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === ">") return i;
  }
  return -1;
}

// RFC 3030 §2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ]; chunk-size = 1*DIGIT.
function parseBdat(argument: string | null): BdatCommand | SmtpSyntaxError {
  const usage = "syntax: BDAT <size> [LAST]";
  if (argument === null) return syntaxError("syntax", "BDAT", usage);
  const words = argument.split(" ");
  const sizeText = words[0] ?? "";
  const last = words.length === 2 && words[1]!.toUpperCase() === "LAST";
  if (words.length > 2 || (words.length === 2 && !last) || !/^[0-9]{1,20}$/.test(sizeText)) {
    return syntaxError("syntax", "BDAT", usage);
  }
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) return syntaxError("syntax", "BDAT", "BDAT chunk size out of range");
  return { kind: "BDAT", size, last };
}

// RFC 4954 §4: "AUTH" SP sasl-mech [SP initial-response]; initial-response = base64 / "=".
function parseAuth(argument: string | null): AuthCommand | SmtpSyntaxError {
  const usage = "syntax: AUTH <mechanism> [initial-response]";
  if (argument === null) return syntaxError("syntax", "AUTH", usage);
  const words = argument.split(" ");
  const mechanism = words[0] ?? "";
  // RFC 4422 §3.1: sasl-mech = 1*20mech-char, mech-char = UPPER-ALPHA / DIGIT / HYPHEN / UNDERSCORE.
  if (words.length > 2 || !/^[A-Za-z0-9_-]{1,20}$/.test(mechanism)) return syntaxError("syntax", "AUTH", usage);
  const response = words[1];
  if (response === undefined) return { kind: "AUTH", mechanism: mechanism.toUpperCase(), initialResponse: null };
  if (response === "=") return { kind: "AUTH", mechanism: mechanism.toUpperCase(), initialResponse: "" };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(response)) return syntaxError("syntax", "AUTH", "initial response is not base64");
  return { kind: "AUTH", mechanism: mechanism.toUpperCase(), initialResponse: response };
}
