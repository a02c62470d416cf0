// The logical message a client sees is the per-recipient trace prefix followed by the shared
// blob. This composes the two into one byte stream, or a byte range of it (IMAP BODY[]<partial>,
// POP3 RETR/TOP), reading only the part of the blob file that the range covers.
import { Readable } from "node:stream";
import type { BlobId, ByteRange } from "../types.js";
import type { BlobDirectory } from "./blob-directory.js";

export function logicalMessageStream(blobs: BlobDirectory, prefix: Buffer, blobId: BlobId, range?: ByteRange): Readable {
  const start = Math.max(0, range?.start ?? 0);
  const end = range ? Math.max(start, range.end) : Number.POSITIVE_INFINITY;
  if (start >= end) return Readable.from([], { objectMode: false });
  const prefixPart = start < prefix.length ? prefix.subarray(start, Math.min(end, prefix.length)) : null;
  const blobRange = { start: Math.max(0, start - prefix.length), end: end - prefix.length };
  const blobWanted = end > prefix.length;
  async function* bytes(): AsyncGenerator<Buffer> {
    if (prefixPart && prefixPart.length > 0) yield prefixPart;
    if (!blobWanted) return;
    for await (const chunk of blobs.createReadStream(blobId, blobRange)) yield chunk as Buffer;
  }
  return Readable.from(bytes(), { objectMode: false });
}
