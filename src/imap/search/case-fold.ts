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
  return text.normalize("NFC").toUpperCase().toLowerCase().replace(/ς/g, "σ");
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
