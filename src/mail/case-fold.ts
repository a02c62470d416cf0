// Case-insensitive substring matching for SEARCH (RFC 9051 §6.4.4: "In all search keys that use
// strings, a message matches the key if the string is a substring of the associated text. The
// matching SHOULD ignore case"). Both sides get the same fold, so only consistency matters:
// NFC first (a decomposed "u + ¨" equals "ü"), then upper then lower case, which expands "ß" to
// "ss" as full case folding does, and final sigma is made ordinary sigma because JavaScript's
// lower-casing picks ς by word position, which differs between a needle and its haystack.

const ASCII_ONLY = /^[\x00-\x7f]*$/;

/** The folded form of `text`: equal for strings that differ only in case or normalisation. */
export function foldCase(text: string): string {
  if (ASCII_ONLY.test(text)) return text.toLowerCase();
  // Upper-casing a long non-ASCII text is several times slower than lower-casing it, and only
  // matters for the few characters it changes (see upperSensitive): those alone are upper-cased
  // before the whole text is lower-cased, which gives the same string.
  const normal = text.normalize("NFC").replace(upperSensitive(), (char) => char.toUpperCase());
  return normal.toLowerCase().replace(/ς/g, "σ");
}

let sensitive: RegExp | null = null;

/**
 * The characters whose upper-then-lower form differs from their lower form (ß → ss, ﬁ → fi, ſ → s,
 * ϐ → β, ...), from this runtime's own Unicode tables, so the shortcut in foldCase can never
 * disagree with the full fold. Neither case mapping has context rules apart from final sigma,
 * which the σ replacement undoes, so a text folds character by character and upper-casing only
 * these characters first is exact.
 * Built on first use (about 0.1 s once per process).
 */
function upperSensitive(): RegExp {
  if (sensitive !== null) return sensitive;
  const sigma = (s: string): string => s.replace(/ς/g, "σ");
  const codes: number[] = [];
  for (let code = 0x80; code <= 0x10ffff; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue;
    const char = String.fromCodePoint(code);
    const lower = char.toLowerCase();
    if (lower === char && char.toUpperCase() === char) continue;
    if (sigma(char.toUpperCase().toLowerCase()) !== sigma(lower)) codes.push(code);
  }
  // A class of UTF-16 units is much faster to scan with than a "u" one; it is exact while every
  // such character is in the BMP (true of Unicode 15), and the "u" form keeps it exact otherwise.
  const bmp = codes.every((code) => code <= 0xffff);
  const escaped = codes.map((code) => (bmp ? `\\u${code.toString(16).padStart(4, "0")}` : `\\u{${code.toString(16)}}`));
  sensitive = new RegExp(`[${escaped.join("")}]`, bmp ? "g" : "gu");
  return sensitive;
}

/** A search string folded once, tested against many texts. */
export class FoldedNeedle {
  readonly folded: string;
  constructor(readonly original: string) {
    this.folded = foldCase(original);
  }

  /** RFC 9051 §6.4.4: substring match; the empty string is in every text. */
  foundIn(haystack: string): boolean {
    return this.foundInFolded(foldCase(haystack));
  }

  /** As foundIn, for a haystack already passed through foldCase. */
  foundInFolded(folded: string): boolean {
    return this.folded === "" || folded.includes(this.folded);
  }
}
