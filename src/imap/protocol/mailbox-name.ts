// Mailbox names on the wire. RFC 3501 §5.1.3 modified UTF-7 for IMAP4rev1 clients; plain UTF-8
// once a client has enabled IMAP4rev2 or UTF8=ACCEPT (RFC 9051 §5.1, RFC 6855 §3). The store keeps
// names as UTF-8 with "/" as the hierarchy delimiter.
//
// Decoding is strict, as Dovecot's is: a name that is not the one canonical modified UTF-7 form of
// some Unicode string (8-bit octets, an unterminated shift, a shifted printable ASCII character,
// two adjacent shifts, non-zero padding bits, a lone surrogate) is refused, never "repaired", so
// two spellings can never name one mailbox. Refusals are NO [CANNOT] (RFC 5530 §3).
import { ImapParseError } from "./parse-error.js";

const DELIMITER = "/";
const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

function cannot(text: string): ImapParseError {
  return new ImapParseError(text, { status: "NO", code: "CANNOT" });
}

const isDirect = (code: number): boolean => code >= 0x20 && code <= 0x7e;

/** Unicode name → modified UTF-7 (RFC 3501 §5.1.3). */
export function encodeModifiedUtf7(name: string): string {
  let out = "";
  let pending: number[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const bytes: number[] = [];
    for (const unit of pending) bytes.push(unit >> 8, unit & 0xff);
    out += `&${encodeBase64(bytes)}-`;
    pending = [];
  };
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (isDirect(code)) {
      flush();
      out += code === 0x26 ? "&-" : name[i];
    } else pending.push(code);
  }
  flush();
  return out;
}

function encodeBase64(bytes: number[]): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += BASE64[(value >> bits) & 0x3f];
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE64[(value << (6 - bits)) & 0x3f];
  return out;
}

/** Modified UTF-7 → Unicode; throws NO [CANNOT] unless the input is canonical. */
export function decodeModifiedUtf7(text: string): string {
  let out = "";
  let i = 0;
  let previousShiftEnd = -1;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (!isDirect(code)) throw cannot("mailbox name is not valid modified UTF-7 (8-bit or control character)");
    if (code !== 0x26) {
      out += text[i];
      i++;
      continue;
    }
    const end = text.indexOf("-", i + 1);
    if (end < 0) throw cannot("mailbox name has an unterminated modified UTF-7 shift");
    if (end === i + 1) {
      out += "&";
      i = end + 1;
      continue;
    }
    // RFC 3501 §5.1.3: consecutive non-ASCII characters are one shift, never two adjacent ones.
    if (previousShiftEnd === i) throw cannot("mailbox name has adjacent modified UTF-7 shifts");
    out += decodeShift(text.slice(i + 1, end));
    i = end + 1;
    previousShiftEnd = i;
  }
  return out;
}

function decodeShift(encoded: string): string {
  let bits = 0;
  let value = 0;
  const units: number[] = [];
  let high = -1;
  for (const char of encoded) {
    const digit = BASE64.indexOf(char);
    if (digit < 0) throw cannot("mailbox name has an invalid modified base64 character");
    value = (value << 6) | digit;
    bits += 6;
    if (bits >= 16) {
      bits -= 16;
      units.push((value >> bits) & 0xffff);
      value &= (1 << bits) - 1;
    }
  }
  if (bits >= 6 || value !== 0) throw cannot("mailbox name has non-canonical modified base64 padding");
  if (units.length === 0) throw cannot("mailbox name has an empty modified UTF-7 shift");
  let out = "";
  for (const unit of units) {
    if (high >= 0) {
      if (unit < 0xdc00 || unit > 0xdfff) throw cannot("mailbox name has an unpaired surrogate");
      out += String.fromCharCode(high, unit);
      high = -1;
    } else if (unit >= 0xd800 && unit <= 0xdbff) high = unit;
    else if (unit >= 0xdc00 && unit <= 0xdfff) throw cannot("mailbox name has an unpaired surrogate");
    else if (isDirect(unit)) throw cannot("mailbox name shifts a printable ASCII character");
    else out += String.fromCharCode(unit);
  }
  if (high >= 0) throw cannot("mailbox name has an unpaired surrogate");
  return out;
}

/**
 * Checks a decoded name the way the store will keep it: no NUL or control characters, no empty
 * name or level, no leading or trailing delimiter, no "." or ".." level. Returns the name with
 * any spelling of INBOX as "INBOX" (RFC 9051 §5.1: INBOX is case-insensitive); nothing else is
 * altered.
 */
export function checkMailboxName(name: string): string {
  if (name.length === 0) throw cannot("empty mailbox name");
  if (/[\u0000-\u001f\u007f-\u009f]/u.test(name)) throw cannot("mailbox name contains a control character");
  const levels = name.split(DELIMITER);
  for (const level of levels) {
    if (level.length === 0) throw cannot("mailbox name has an empty hierarchy level");
    if (level === "." || level === "..") throw cannot("mailbox name has a '.' or '..' level");
  }
  return name.toUpperCase() === "INBOX" ? "INBOX" : name;
}

/**
 * checkMailboxName, plus the rules for a name about to come into existence (CREATE, the new
 * name of RENAME). RFC 9051 §5.1 leaves the meaning of every name but INBOX to the server, and
 * §6.3.4 lets CREATE fail with NO; we refuse two forms that mean something outside IMAP:
 * - a leading "~": the Unix "home of user" convention RFC 9051 §6.3.9 gives as an example of a
 *   server's own interpretation (~smith/Mail); Dovecot refuses it too ("Begins with '~'");
 * - any "\": a path separator to Windows and to the tools that export mailboxes as Maildir or
 *   mbox files, and a quoted-special every client has to escape. Dovecot's Maildir++ layout
 *   still accepts it; we refuse it so that "..\..\x" can never become a path anywhere.
 * Names that already exist stay usable (SELECT, DELETE, RENAME from): only new ones are checked.
 */
export function checkNewMailboxName(name: string): string {
  const checked = checkMailboxName(name);
  if (checked.startsWith("~")) throw cannot("mailbox name must not begin with '~'");
  if (checked.includes("\\")) throw cannot("mailbox name must not contain '\\'");
  return checked;
}

/** Wire bytes of a mailbox argument → the store's name. `utf8`: IMAP4rev2 or UTF8=ACCEPT enabled. */
export function decodeMailboxName(raw: Buffer, utf8: boolean): string {
  if (utf8) {
    const text = raw.toString("utf8");
    if (!Buffer.from(text, "utf8").equals(raw)) throw cannot("mailbox name is not valid UTF-8");
    return text;
  }
  return decodeModifiedUtf7(raw.toString("latin1"));
}

/** The store's name → the wire form for this client. */
export function encodeMailboxName(name: string, utf8: boolean): string {
  return utf8 ? name : encodeModifiedUtf7(name);
}
