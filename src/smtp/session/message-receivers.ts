// The two ways a message body arrives. DATA (RFC 5321 §4.1.1.4) is dot-stuffed text ending only at
// <CRLF>.<CRLF>; BDAT (RFC 3030) is counted chunks. Both feed a BodySink and keep consuming the
// client's bytes after a refusal, so the bytes of a refused message are never read as commands.
import { DotUnstuffer } from "../../mail/dot-stuffing.js";
import { ReplyCodes, reply, type SmtpReply } from "../protocol/index.js";
import type { BodySink } from "./body-sink.js";

export type ReceiveStep = { done: false } | { done: true; rest: Buffer; refusal: SmtpReply | null };

/** DATA: everything up to <CRLF>.<CRLF>, unstuffed. */
export class DataReceiver {
  readonly #unstuffer: DotUnstuffer;
  #refusal: SmtpReply | null = null;

  constructor(
    readonly sink: BodySink,
    maxMessageSize: number,
    maxTextLineOctets: number,
  ) {
    this.#unstuffer = new DotUnstuffer({ maxOctets: maxMessageSize, maxLineOctets: maxTextLineOctets });
  }

  async push(chunk: Buffer): Promise<ReceiveStep> {
    const step = this.#unstuffer.push(chunk);
    if (this.#refusal === null) {
      for (const piece of step.body) await this.sink.write(piece);
      this.#check();
    }
    return step.done ? { done: true, rest: step.rest, refusal: this.#refusal } : { done: false };
  }

  // Checked as the bytes arrive so a refused body stops reaching the disk at once.
  #check(): void {
    const summary = this.#unstuffer.summary();
    // SMTP smuggling (RFC 5321 §2.3.8): a bare CR or LF is never a line end, and a message that
    // contains one is refused whole, so no other server can read a different message out of it.
    if (summary.bareLineEnding) this.#refuse(reply(ReplyCodes.BareLineEnding));
    else if (summary.overflow) this.#refuse(reply(ReplyCodes.MessageTooBig));
    else if (summary.longLine) this.#refuse(reply(ReplyCodes.TextLineTooLong));
  }

  #refuse(refusal: SmtpReply): void {
    this.#refusal = refusal;
    this.sink.abort();
  }
}

/** One BDAT chunk of a known size; the transaction's total is checked against the limit. */
export class BdatChunkReceiver {
  #remaining: number;
  #refusal: SmtpReply | null;

  constructor(
    readonly sink: BodySink | null,
    size: number,
    readonly last: boolean,
    maxMessageSize: number,
    /** A refusal decided before the chunk's bytes arrived (bad sequence): they are still consumed. */
    refusal: SmtpReply | null,
  ) {
    this.#remaining = size;
    this.#refusal = refusal;
    if (refusal === null && sink !== null && sink.octets + size > maxMessageSize) {
      // RFC 3030 §2 and RFC 1870 §6.3: known to be too big before reading; consume, then refuse.
      this.#refusal = reply(ReplyCodes.MessageTooBig);
      sink.abort();
    }
  }

  get refusal(): SmtpReply | null {
    return this.#refusal;
  }

  /** Takes a chunk of the counted bytes; true once the announced size has arrived. */
  async push(chunk: Buffer, remaining: number): Promise<boolean> {
    this.#remaining = remaining;
    if (this.#refusal === null && this.sink !== null) await this.sink.write(chunk);
    return this.#remaining === 0;
  }
}
