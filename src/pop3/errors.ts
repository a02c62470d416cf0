// Typed POP3 failures: thrown deep (maildrop, commands), turned into one -ERR line in one place
// (pop3-session.ts). Anything else thrown becomes -ERR [SYS/TEMP] and an error log line, so no
// internal detail reaches the client.
import { err, type Pop3Response, type Pop3ResponseCode } from "./protocol/index.js";

export class Pop3Error extends Error {
  override readonly name = "Pop3Error";
  constructor(
    readonly code: Pop3ResponseCode | null,
    readonly text: string,
  ) {
    super(text);
  }

  get response(): Pop3Response {
    return err(this.text, this.code);
  }
}

/**
 * The connection can no longer carry a well-formed response (a message body failed half-way):
 * the session closes it rather than let the client take a cut message for a whole one.
 */
export class BrokenResponseError extends Error {
  override readonly name = "BrokenResponseError";
}

export const noSuchMessage = (n: number) => new Pop3Error(null, `no such message ${n}`);
