// The octet count of a message as POP3 RETR sends it (RFC 1939 §5: LIST and STAT give "the size
// of the message in octets"), before dot-stuffing. RETR sends the stored bytes through
// mail/DotStuffer, which turns every bare LF and bare CR into CRLF and ends an unterminated last
// line with CRLF, so a message holding bare LFs is longer on the wire than in the store. This
// counter applies the same rules without building the output, so LIST, STAT and "+OK n octets"
// match what the client receives exactly. It lives in mail/ because the store runs it at delivery,
// in the same streaming pass as the MIME tree, so STAT and LIST read no message. Fast path: only
// CR and LF positions are visited (Buffer.indexOf), so a clean CRLF message costs a scan, not a copy.

const CR = 0x0d;
const LF = 0x0a;

export class SentOctetCounter {
  #octets = 0;
  /** The previous chunk ended in a CR whose partner (LF or not) is in the next chunk. */
  #pendingCr = false;
  /** The last octet pushed ended a line (or nothing was pushed yet). */
  #atLineStart = true;
  #empty = true;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#empty = false;
    let extra = 0;
    let start = 0;
    if (this.#pendingCr) {
      // Counted as a full CRLF when it was seen; an LF here is its partner and adds nothing.
      this.#pendingCr = false;
      if (chunk[0] === LF) start = 1;
    }
    // A bare LF becomes CRLF: one octet more.
    for (let i = chunk.indexOf(LF, start); i >= 0; i = chunk.indexOf(LF, i + 1)) {
      if (i === 0 || chunk[i - 1] !== CR) extra += 1;
    }
    // A CR becomes CRLF whatever follows; when LF does follow, the pair is two octets as stored.
    for (let i = chunk.indexOf(CR, start); i >= 0; i = chunk.indexOf(CR, i + 1)) {
      if (i + 1 === chunk.length) {
        this.#pendingCr = true;
        extra += 1;
      } else if (chunk[i + 1] !== LF) extra += 1;
    }
    this.#octets += chunk.length - start + extra;
    const last = chunk[chunk.length - 1];
    this.#atLineStart = last === LF || last === CR;
  }

  /** Octets RETR sends between "+OK" and the terminating ".", dot-stuffing excluded. */
  total(): number {
    // DotStuffer.end(): an unterminated last line is closed with CRLF before the ".".
    return this.#empty || this.#atLineStart ? this.#octets : this.#octets + 2;
  }
}

/** Convenience for tests and small buffers. */
export function sentOctets(message: Buffer): number {
  const counter = new SentOctetCounter();
  counter.push(message);
  return counter.total();
}
