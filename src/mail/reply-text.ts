// Server reply text for line protocols (SMTP replies, POP3 responses): a line must never carry a
// control character (a CR or LF would split it into two replies) and must fit a line limit,
// cut at a character boundary so UTF-8 text is never broken mid-character.

/** Removes C0 controls and DEL. */
export function stripControls(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, "");
}

/** The longest prefix of `text` whose UTF-8 encoding fits in `maxOctets`. */
export function fitOctets(text: string, maxOctets: number): string {
  if (Buffer.byteLength(text, "utf8") <= maxOctets) return text;
  let result = "";
  let used = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch, "utf8");
    if (used + size > maxOctets) break;
    result += ch;
    used += size;
  }
  return result;
}
