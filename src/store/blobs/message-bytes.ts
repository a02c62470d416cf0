// The logical message a client sees is the per-recipient trace prefix followed by the shared
// blob. This composes the two into one byte stream, or a byte range of it (IMAP BODY[]<partial>,
// POP3 RETR/TOP), reading only the part of the blob file that the range covers.
//
// A blob file that is missing, or shorter than its row records, fails the stream with the error
// `damaged()` gives (the store decides: DAMAGED while the row exists, NONEXISTENT once it is gone),
// never with a raw ENOENT and never by ending early: a reader must not take a cut message for a
// whole one.
import { Readable } from "node:stream";
import type { BlobId, ByteRange } from "../types.js";
import type { BlobDirectory } from "./blob-directory.js";

export interface BlobExpectation {
  /** Octets the blob file has (from its row). */
  size: number;
  /** The error for a missing or short file. */
  damaged(reason: "missing" | "short"): Error;
}

export function logicalMessageStream(blobs: BlobDirectory, prefix: Buffer, blobId: BlobId, range?: ByteRange, expect?: BlobExpectation): Readable {
  const start = Math.max(0, range?.start ?? 0);
  const end = range ? Math.max(start, range.end) : Number.POSITIVE_INFINITY;
  if (start >= end) return Readable.from([], { objectMode: false });
  const prefixPart = start < prefix.length ? prefix.subarray(start, Math.min(end, prefix.length)) : null;
  const blobRange = { start: Math.max(0, start - prefix.length), end: end - prefix.length };
  const blobWanted = end > prefix.length;
  async function* bytes(): AsyncGenerator<Buffer> {
    if (prefixPart && prefixPart.length > 0) yield prefixPart;
    if (!blobWanted) return;
    let read = 0;
    try {
      for await (const chunk of blobs.createReadStream(blobId, blobRange)) {
        read += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    } catch (err) {
      if (expect && (err as NodeJS.ErrnoException).code === "ENOENT") throw expect.damaged("missing");
      throw err;
    }
    if (expect) {
      const wanted = Math.max(0, Math.min(blobRange.end, expect.size) - blobRange.start);
      if (read < wanted) throw expect.damaged("short");
    }
  }
  return Readable.from(bytes(), { objectMode: false });
}
