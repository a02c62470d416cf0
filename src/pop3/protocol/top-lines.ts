// The part of a message TOP sends (RFC 1939 §7 "TOP msg n"): the header, the blank line that ends
// it, and the first n lines of the body. Line ends are read as mail/DotStuffer writes them (CRLF,
// bare LF and bare CR each end one line), so the lines counted here are the lines the client
// receives. Incremental: push raw chunks, get back the slices to send, stop once done.

const CR = 0x0d;
const LF = 0x0a;

export class TopLimiter {
  #bodyLinesLeft: number;
  #inBody = false;
  #atLineStart = true;
  #previousCr = false;
  /** The last line has ended; only the LF of a CRLF may still follow. */
  #ending = false;
  #done = false;

  constructor(bodyLines: number) {
    this.#bodyLinesLeft = bodyLines;
  }

  /** True once everything TOP sends has been returned; the rest of the message is not needed. */
  get done(): boolean {
    return this.#done;
  }

  /** The prefix of the chunk that belongs to the output (the whole chunk until the end is found). */
  push(chunk: Buffer): Buffer {
    if (this.#done) return chunk.subarray(0, 0);
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (this.#previousCr && byte === LF) {
        // The LF of a CRLF whose CR already ended the line.
        this.#previousCr = false;
        if (this.#ending) return this.#finish(chunk, i + 1);
        continue;
      }
      this.#previousCr = false;
      if (this.#ending) return this.#finish(chunk, i);
      if (byte !== CR && byte !== LF) {
        this.#atLineStart = false;
        continue;
      }
      this.#previousCr = byte === CR;
      if (!this.#inBody) {
        // An empty line ends the header (RFC 5322 §2.1); it is sent, then n body lines.
        if (this.#atLineStart) {
          this.#inBody = true;
          if (this.#bodyLinesLeft === 0) this.#ending = true;
        }
      } else {
        this.#bodyLinesLeft -= 1;
        if (this.#bodyLinesLeft === 0) this.#ending = true;
      }
      this.#atLineStart = true;
      if (this.#ending && byte === LF) return this.#finish(chunk, i + 1);
    }
    return chunk;
  }

  #finish(chunk: Buffer, end: number): Buffer {
    this.#done = true;
    return chunk.subarray(0, end);
  }
}
