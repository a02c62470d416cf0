// The line encoding SASL uses in SMTP AUTH (RFC 4954 §4), IMAP AUTHENTICATE (RFC 9051 §6.2.2,
// RFC 4959) and POP3 AUTH (RFC 5034 §4): every challenge and response is one line of base64.
// The three protocols agree on the details, so they share this codec:
// - a response of "*" cancels the exchange;
// - an initial response of "=" is an empty initial response (distinct from none at all);
// - anything that is not strict RFC 4648 base64 is refused. Node's Buffer.from(s, "base64")
//   silently skips bad characters, which would let "PLAIN" bytes through a mangled line, so the
//   text is validated first.

export type SaslClientLine =
  | { kind: "response"; bytes: Buffer }
  | { kind: "cancel" }
  | { kind: "invalid"; reason: "bad-base64" | "too-long" };

// RFC 4648 §4 alphabet, padded to a multiple of four characters; no whitespace, no URL alphabet.
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The longest base64 text that can carry `maxBytes` decoded bytes. */
export function maxEncodedLength(maxBytes: number): number {
  return Math.ceil(maxBytes / 3) * 4;
}

/**
 * Decodes strict base64, or null. Besides the alphabet and padding, the unused low bits of the
 * last character must be zero (RFC 4648 §3.5), so every byte string has exactly one encoding.
 */
export function decodeStrictBase64(text: string): Buffer | null {
  if (!STRICT_BASE64.test(text)) return null;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : null;
}

/**
 * Decodes a client response line (the line without its CRLF). `maxBytes` bounds the decoded size;
 * the check runs on the text length first, so an oversized line is never decoded.
 */
export function decodeSaslResponse(line: string, maxBytes: number): SaslClientLine {
  if (line === "*") return { kind: "cancel" };
  if (line.length > maxEncodedLength(maxBytes)) return { kind: "invalid", reason: "too-long" };
  const bytes = decodeStrictBase64(line);
  if (bytes === null) return { kind: "invalid", reason: "bad-base64" };
  if (bytes.length > maxBytes) return { kind: "invalid", reason: "too-long" };
  return { kind: "response", bytes };
}

/**
 * Decodes the optional initial response argument of AUTH / AUTHENTICATE. `null` means the client
 * sent none; "=" means it sent an empty one (RFC 4954 §4, RFC 4959 §3). A bare "*" in this
 * position is not a cancel, just bad base64.
 */
export function decodeInitialResponse(argument: string | null, maxBytes: number): SaslClientLine | null {
  if (argument === null) return null;
  if (argument === "=") return { kind: "response", bytes: Buffer.alloc(0) };
  // An empty argument cannot be told apart from a missing one in every protocol; "=" is the way.
  if (argument === "") return { kind: "invalid", reason: "bad-base64" };
  if (argument === "*") return { kind: "invalid", reason: "bad-base64" };
  return decodeSaslResponse(argument, maxBytes);
}

/** Encodes a server challenge for the continuation line ("334 ", "+ "); empty stays empty. */
export function encodeSaslChallenge(challenge: Buffer): string {
  return challenge.toString("base64");
}
