// One pass over a message's bytes -> the MIME part tree with byte offsets, stored at delivery so
// IMAP BODYSTRUCTURE, BODY[section]<partial> and BINARY never reparse the message.
//
// CONTRACT (implementation to follow in this file):
//   const builder = new MimeTreeBuilder(limits?);
//   builder.push(chunk) ... (any chunking, same result)
//   const parsed: ParsedMessage = builder.finish();

export interface ContentType {
  /** Lower-cased, e.g. "text". Defaults to text/plain; charset=us-ascii (RFC 2045 §5.2). */
  type: string;
  subtype: string;
  /** Parameter names lower-cased; RFC 2231 continuations joined and charset-decoded to UTF-8. */
  params: Record<string, string>;
}

export interface ContentDisposition {
  type: string;
  params: Record<string, string>;
}

export interface MimePart {
  /** IMAP part number ("1", "1.2"); "" for the root; "TEXT" semantics are the caller's. */
  partNumber: string;
  /** Offsets are octet positions in the message, end exclusive. */
  headerStart: number;
  /** End of the header including the blank line that ends it (or the part end if none). */
  headerEnd: number;
  bodyStart: number;
  bodyEnd: number;
  /** Number of lines of the body (for text/* and message/rfc822 BODYSTRUCTURE). */
  bodyLines: number;
  contentType: ContentType;
  disposition: ContentDisposition | null;
  /** Raw (unfolded) header values, or null when absent. */
  contentId: string | null;
  contentDescription: string | null;
  /** Lower-cased; "7bit" when absent. */
  contentTransferEncoding: string;
  contentLanguage: string[] | null;
  contentLocation: string | null;
  contentMd5: string | null;
  /** Parts of a multipart/*, in order. */
  children: MimePart[];
  /** For message/rfc822 (and message/global): the encapsulated message. */
  encapsulated: { envelope: import("./envelope.js").Envelope; root: MimePart } | null;
}

export interface ParsedMessage {
  root: MimePart;
  envelope: import("./envelope.js").Envelope;
  /** Total octets seen. */
  size: number;
  /** Decoded header values and text/* bodies (UTF-8), capped; for SEARCH TEXT/BODY. */
  searchText: string;
}
