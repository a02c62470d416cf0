// POP3 responses (RFC 1939 §3): "+OK"/"-ERR" status lines with the RFC 2449 §8 extended response
// codes ("-ERR [IN-USE] ..."), multi-line responses terminated by "." and SASL continuations
// ("+ " base64, RFC 5034 §4). Pure encoders: text taken from anywhere is stripped of control
// characters, so nothing can end a response early or forge a second one.
import { fitOctets, stripControls } from "../../mail/reply-text.js";

/**
 * RFC 2449 §8: IN-USE, LOGIN-DELAY; RFC 3206 §4-5: SYS/TEMP, SYS/PERM, AUTH. Codes are sent only
 * after the client could see RESP-CODES in CAPA, but RFC 2449 §8 lets a server send them always.
 */
export type Pop3ResponseCode = "AUTH" | "IN-USE" | "LOGIN-DELAY" | "SYS/TEMP" | "SYS/PERM";

export interface Pop3Response {
  readonly ok: boolean;
  readonly code: Pop3ResponseCode | null;
  readonly text: string;
}

// RFC 2449 §4: a response line is at most 512 octets including the CRLF.
export const MAX_RESPONSE_LINE_OCTETS = 512;
const CRLF = "\r\n";
const TERMINATOR = Buffer.from(".\r\n", "latin1");

export function ok(text: string): Pop3Response {
  return { ok: true, code: null, text };
}

export function err(text: string, code: Pop3ResponseCode | null = null): Pop3Response {
  return { ok: false, code, text };
}

export function encodeResponse(response: Pop3Response): Buffer {
  return Buffer.from(statusLine(response), "utf8");
}

/**
 * A status line followed by lines of text and the "." terminator (CAPA, LIST, UIDL, AUTH).
 * RFC 1939 §3: a line beginning with "." is sent with the "." doubled.
 */
export function encodeMultiline(first: Pop3Response, lines: readonly string[]): Buffer {
  const body = lines.map((line) => {
    const clean = stripControls(line);
    return (clean.startsWith(".") ? `.${clean}` : clean) + CRLF;
  });
  return Buffer.concat([Buffer.from(statusLine(first) + body.join(""), "utf8"), TERMINATOR]);
}

/** RFC 5034 §4: a server challenge is "+" SP base64 CRLF; an empty challenge is "+ ". */
export function encodeContinuation(base64: string): Buffer {
  return Buffer.from(`+ ${stripControls(base64)}${CRLF}`, "latin1");
}

/** The ".\r\n" that ends a multi-line response whose body was streamed. */
export function multilineTerminator(): Buffer {
  return TERMINATOR;
}

function statusLine(response: Pop3Response): string {
  const status = response.ok ? "+OK" : "-ERR";
  const code = response.code === null ? "" : ` [${response.code}]`;
  const text = stripControls(response.text);
  const prefix = `${status}${code}`;
  const room = MAX_RESPONSE_LINE_OCTETS - CRLF.length - prefix.length - 1;
  return (text === "" ? prefix : `${prefix} ${fitOctets(text, room)}`) + CRLF;
}
