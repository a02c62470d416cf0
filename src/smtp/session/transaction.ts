// The envelope being built between MAIL FROM and the end of the message (RFC 5321 §3.3), reset by
// RSET, by a new EHLO/HELO, by STARTTLS and after the message. It also remembers how the body is
// being sent, because RFC 3030 forbids mixing DATA and BDAT within one transaction.
import type { ReversePath } from "../../mail/address.js";
import type { MailParameters } from "../protocol/index.js";
import type { AcceptedRecipient, EnvelopeView } from "./types.js";

export type BodyMode = "none" | "data" | "bdat";

export class Transaction implements EnvelopeView {
  readonly recipients: AcceptedRecipient[] = [];
  bodyMode: BodyMode = "none";
  /** RCPT commands answered so far, accepted or not (bounded by max_recipients). */
  rcptCount = 0;

  constructor(
    readonly id: string,
    readonly reversePath: ReversePath,
    readonly parameters: MailParameters,
    readonly receivedAt: Date,
  ) {}

  get sender(): string {
    return this.reversePath.kind === "null" ? "" : this.reversePath.address;
  }

  /** RFC 6531 §3.4: SMTPUTF8 on MAIL lets RCPT paths be UTF-8. */
  get smtputf8(): boolean {
    return this.parameters.smtputf8;
  }
}
