// A deterministic 25 MB multipart/mixed message with five base64 attachments (issue #3), shared by
// the SMTP and IMAP large-message tests: the same bytes on every run, and each attachment's
// decoded bytes and base64 text can be recomputed to compare a part fetched on its own.
import { createHash } from "node:crypto";

const MB = 1024 * 1024;

/** Deterministic bytes: a SHA-256 counter stream from a seed (same message on every run). */
export function pseudoRandomBytes(seed: string, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let offset = 0, counter = 0; offset < length; offset += 32, counter++) {
    createHash("sha256").update(`${seed}:${counter}`).digest().copy(out, offset);
  }
  return out;
}

/** RFC 2045 §6.8: base64 in lines of at most 76 characters. */
export function base64Lines(bytes: Buffer): string {
  return (bytes.toString("base64").match(/.{1,76}/g) ?? []).join("\r\n");
}

/** Attachment i (0-based) is MIME part i+2: part 1 is the text/plain preamble part. */
export const LARGE_ATTACHMENT_SIZES: readonly number[] = [6 * MB, 5 * MB, 4 * MB, 3 * MB, 700 * 1024];

/** The decoded bytes of attachment i. */
export function largeAttachment(i: number): Buffer {
  return pseudoRandomBytes(`part${i}`, LARGE_ATTACHMENT_SIZES[i] ?? 0);
}

export function largeMessage(): Buffer {
  const boundary = "=_mailroom_large_boundary";
  const parts = [
    "From: Big Sender <big@ext.example>\r\nTo: alice@example.org\r\nSubject: 25 MB of attachments\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\nMessage-ID: <large@ext.example>\r\n",
    `MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="${boundary}"\r\n\r\nThis is a multi-part message in MIME format.\r\n`,
    `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nFive attachments follow.\r\n`,
  ];
  LARGE_ATTACHMENT_SIZES.forEach((_, i) => {
    parts.push(`--${boundary}\r\nContent-Type: application/octet-stream; name="part${i}.bin"\r\nContent-Disposition: attachment; filename="part${i}.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n`);
    parts.push(`${base64Lines(largeAttachment(i))}\r\n`);
  });
  parts.push(`--${boundary}--\r\n`);
  return Buffer.from(parts.join(""), "latin1");
}
