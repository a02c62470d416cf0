// xtext (RFC 3461 §4): the encoding of ENVID, ORCPT and AUTH= parameter values, in both directions,
// plus the RFC 6533 §3 "\x{HEX}" escapes of utf-8-addr-xtext used in ORCPT=utf-8;… values.
import { isUtf8 } from "node:buffer";

/**
 * Decodes xtext; null when the text is not xtext or its octets are not UTF-8. With `utf8`, raw
 * non-ASCII characters are allowed as well (RFC 6531 §3.3: esmtp-value =/ UTF8-non-ascii).
 */
export function decodeXtext(text: string, utf8 = false): string | null {
  const octets: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x2b) {
      // hexchar = "+" 2(%x30-39 / %x41-46). Lower-case hex digits are accepted too: being lenient
      // here cannot change what any other byte means.
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      octets.push(parseInt(hex, 16));
      i += 2;
    } else if (code >= 0x21 && code <= 0x7e && code !== 0x3d) {
      // xchar = "!".."~" except "+" and "=".
      octets.push(code);
    } else if (utf8 && code >= 0x80) {
      const point = text.codePointAt(i)!;
      if (point >= 0xd800 && point <= 0xdfff) return null;
      if (point > 0xffff) i++;
      octets.push(...Buffer.from(String.fromCodePoint(point), "utf8"));
    } else {
      return null;
    }
  }
  const bytes = Buffer.from(octets);
  return isUtf8(bytes) ? bytes.toString("utf8") : null;
}

/** Encodes text as xtext; characters outside printable ASCII are written as their UTF-8 octets. */
export function encodeXtext(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out += byte >= 0x21 && byte <= 0x7e && byte !== 0x2b && byte !== 0x3d ? String.fromCharCode(byte) : `+${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * Decodes the RFC 6533 §3 utf-8-addr-xtext / utf-8-addr-unitext form: xtext first, then each
 * "\x{HEXPOINT}" becomes its code point. Null when an escape is malformed or names a surrogate.
 */
export function decodeUtf8AddrXtext(text: string, utf8 = false): string | null {
  const xtext = decodeXtext(text, utf8);
  if (xtext === null) return null;
  let failed = false;
  const decoded = xtext.replace(/\\x\{([0-9A-Fa-f]{1,6})\}|\\/g, (match: string, hex: string | undefined) => {
    const point = hex === undefined ? -1 : parseInt(hex, 16);
    if (point < 0 || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff)) {
      failed = true;
      return match;
    }
    return String.fromCodePoint(point);
  });
  return failed ? null : decoded;
}
