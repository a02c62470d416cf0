// What a message needs of the receiving server: 8-bit octets in the header (SMTPUTF8, RFC 6532)
// or in the body (8BITMIME, RFC 6152). Read only when the receiver lacks an extension the
// submission declared, to decide between a lossless downgrade (the octets are all 7-bit after all)
// and failing the recipient.
import type { Readable } from "node:stream";

export interface EightBitScan {
  header8bit: boolean;
  body8bit: boolean;
}

export async function scanEightBit(message: Readable | AsyncIterable<Buffer>): Promise<EightBitScan> {
  let header8bit = false;
  let body8bit = false;
  let inHeader = true;
  // The last three octets of the previous chunk, to find CRLFCRLF across chunk edges.
  let tail = Buffer.alloc(0);
  for await (const piece of message as AsyncIterable<Buffer>) {
    const chunk = Buffer.isBuffer(piece) ? piece : Buffer.from(piece as string);
    let bodyStart = 0;
    if (inHeader) {
      const joined = Buffer.concat([tail, chunk]);
      const end = joined.indexOf("\r\n\r\n");
      if (end >= 0) {
        inHeader = false;
        bodyStart = Math.max(0, end + 4 - tail.length);
        if (hasHighOctet(joined.subarray(0, end))) header8bit = true;
      } else {
        if (hasHighOctet(chunk)) header8bit = true;
        tail = joined.subarray(Math.max(0, joined.length - 3));
        continue;
      }
    }
    if (!body8bit && hasHighOctet(chunk.subarray(bodyStart))) body8bit = true;
  }
  return { header8bit, body8bit };
}

function hasHighOctet(bytes: Buffer): boolean {
  for (const byte of bytes) if (byte >= 0x80) return true;
  return false;
}
