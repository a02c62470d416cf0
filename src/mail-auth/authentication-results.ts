// The Authentication-Results header field (RFC 8601), composed by us rather than taken from
// mailauth: every property value here can come from a hostile peer (HELO, MAIL FROM, the From:
// header, a DKIM-Signature's d= and s=), so each is reduced to printable characters and written as
// a token or a quoted-string (RFC 8601 §2.2, RFC 2045 §5.1). Nothing the peer controls can end the
// line. Only fixed words from our own code appear in comments.

export interface ResultProperty {
  /** RFC 8601 §2.3 ptype: "smtp" | "header" | "policy" | "body". */
  ptype: string;
  property: string;
  value: string;
}

export interface MethodResult {
  /** RFC 8601 §2.7 method: "spf", "dkim", "dmarc", "arc". */
  method: string;
  result: string;
  /** A fixed explanatory comment, written as `(comment)`; never peer-supplied text. */
  comment?: string;
  properties: ResultProperty[];
}

/** Longest property value we reproduce; a reverse path is at most 256 octets (RFC 5321 §4.5.3.1.3). */
const MAX_VALUE_CHARACTERS = 256;
/** RFC 5322 §2.1.1: lines SHOULD be no more than 78 characters. */
const FOLD_AT = 78;

// RFC 2045 §5.1 token: any printable ASCII except SPACE and tspecials.
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;
// RFC 8601 §2.2 pvalue alternative `[ [ local-part ] "@" ] domain-name`, with a dot-atom local part.
const DOT_ATOM = "[!#$%&'*+\\-/=?^_`{|}~0-9A-Za-z]+(?:\\.[!#$%&'*+\\-/=?^_`{|}~0-9A-Za-z]+)*";
const DOMAIN_NAME = "[0-9A-Za-z](?:[0-9A-Za-z-]*[0-9A-Za-z])?(?:\\.[0-9A-Za-z](?:[0-9A-Za-z-]*[0-9A-Za-z])?)*\\.?";
const ADDRESS = new RegExp(`^(?:(?:${DOT_ATOM})?@)?${DOMAIN_NAME}$`);

/** Drops every control character (CR and LF among them) and caps the length. */
function printable(text: string): string {
  const cleaned = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, "");
  return Array.from(cleaned).slice(0, MAX_VALUE_CHARACTERS).join("");
}

/** One pvalue (or authserv-id): bare when it is a token or an address, otherwise a quoted-string. */
export function encodePropertyValue(raw: string): string {
  const text = printable(raw);
  if (text.length > 0 && (ADDRESS.test(text) || TOKEN.test(text))) return text;
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Comment text limited to characters that need no escaping inside `( )` (RFC 5322 §3.2.2 ctext). */
function encodeComment(text: string): string {
  return `(${printable(text).replace(/[()\\]/g, "")})`;
}

/**
 * The complete header field, CRLF-terminated. Each resinfo starts a new folded line after its
 * `;`; a resinfo longer than a line is folded between its property specs, never inside a value.
 */
export function formatAuthenticationResults(authservId: string, results: readonly MethodResult[]): string {
  const lines: string[] = [];
  let current = `Authentication-Results: ${encodePropertyValue(authservId)}`;
  if (results.length === 0) {
    // RFC 8601 §2.2 no-result: nothing was evaluated.
    return `${current}; none\r\n`;
  }
  for (const entry of results) {
    current += ";";
    lines.push(current);
    const words = [`${entry.method}=${encodePropertyValue(entry.result)}`];
    if (entry.comment) words.push(encodeComment(entry.comment));
    for (const property of entry.properties) {
      words.push(`${property.ptype}.${property.property}=${encodePropertyValue(property.value)}`);
    }
    current = "\t";
    for (const word of words) {
      const separator = current === "\t" ? "" : " ";
      if (current !== "\t" && current.length + separator.length + word.length > FOLD_AT) {
        lines.push(current);
        current = `\t  ${word}`;
      } else {
        current += separator + word;
      }
    }
  }
  lines.push(current);
  return lines.join("\r\n") + "\r\n";
}
