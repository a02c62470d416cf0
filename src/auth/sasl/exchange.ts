// One SASL exchange as the three protocols drive it: wire lines in, wire lines or an outcome out.
// It joins the base64 codec (wire.ts) to a mechanism's state machine and bounds the exchange, so
// SMTP, IMAP and POP3 differ only in how they frame the lines ("334 " / "+ " / "+ ") and word the
// outcomes. Sans-IO: no socket, no timer; the protocol owns the read timeout.
import { DEFAULT_SASL_LIMITS } from "./mechanism.js";
import type { SaslCredentials, SaslFailureReason, SaslLimits, SaslMechanism, SaslStep } from "./mechanism.js";
import { decodeInitialResponse, decodeSaslResponse, encodeSaslChallenge } from "./wire.js";
import type { SaslClientLine } from "./wire.js";

export interface SaslExchangeLimits extends SaslLimits {
  /** Largest decoded client response. RFC 4954 §4 lets SMTP servers cap the AUTH line at 12288 octets. */
  maxResponseBytes: number;
  /** Most client responses in one exchange; a mechanism bug or hostile client cannot loop forever. */
  maxSteps: number;
}

export const DEFAULT_SASL_EXCHANGE_LIMITS: Readonly<SaslExchangeLimits> = Object.freeze({
  ...DEFAULT_SASL_LIMITS,
  maxResponseBytes: 4096,
  maxSteps: 8,
});

export type SaslExchangeStep =
  /** Send as a continuation: SMTP "334 <line>", IMAP "+ <line>", POP3 "+ <line>". */
  | { kind: "challenge"; line: string }
  /** The mechanism is satisfied; check the credentials with the Authenticator. */
  | { kind: "done"; credentials: SaslCredentials }
  /** The client sent "*": SMTP 501 5.0.0, IMAP BAD, POP3 -ERR (RFC 4954 §4, RFC 9051 §6.2.2, RFC 5034 §4). */
  | { kind: "cancelled" }
  /** The line itself was unusable: SMTP 501 5.5.2, IMAP BAD, POP3 -ERR. */
  | { kind: "malformed"; reason: "bad-base64" | "too-long" | "too-many-steps" }
  /** The mechanism refused the message: answer as an authentication failure (535 5.7.8, NO, -ERR). */
  | { kind: "failed"; reason: SaslFailureReason };

export class SaslExchange {
  private steps = 0;
  private begun = false;
  private over = false;

  constructor(
    private readonly mechanism: SaslMechanism,
    private readonly limits: SaslExchangeLimits = DEFAULT_SASL_EXCHANGE_LIMITS,
  ) {}

  get mechanismName(): string {
    return this.mechanism.name;
  }

  /** True once the exchange reached an outcome; any later line is refused. */
  get finished(): boolean {
    return this.over;
  }

  /** Starts the exchange with the command's initial-response argument, or null when absent. */
  async begin(initialResponse: string | null): Promise<SaslExchangeStep> {
    if (this.begun || this.over) return { kind: "failed", reason: "unexpected-response" };
    this.begun = true;
    const decoded = decodeInitialResponse(initialResponse, this.limits.maxResponseBytes);
    if (decoded === null) return this.settle(await this.mechanism.start(null));
    if (decoded.kind !== "response") return this.refuse(decoded);
    this.steps += 1;
    return this.settle(await this.mechanism.start(decoded.bytes));
  }

  /** Feeds one client line (without CRLF) answering the last challenge. */
  async continue(line: string): Promise<SaslExchangeStep> {
    if (!this.begun || this.over) return { kind: "failed", reason: "unexpected-response" };
    const decoded = decodeSaslResponse(line, this.limits.maxResponseBytes);
    if (decoded.kind !== "response") return this.refuse(decoded);
    this.steps += 1;
    if (this.steps > this.limits.maxSteps) return this.refuse({ kind: "invalid", reason: "too-many-steps" });
    return this.settle(await this.mechanism.next(decoded.bytes));
  }

  private refuse(line: Exclude<SaslClientLine, { kind: "response" }> | { kind: "invalid"; reason: "too-many-steps" }): SaslExchangeStep {
    this.over = true;
    return line.kind === "cancel" ? { kind: "cancelled" } : { kind: "malformed", reason: line.reason };
  }

  private settle(step: SaslStep): SaslExchangeStep {
    switch (step.kind) {
      case "challenge":
        return { kind: "challenge", line: encodeSaslChallenge(step.challenge) };
      case "done":
        this.over = true;
        return { kind: "done", credentials: step.credentials };
      case "error":
        this.over = true;
        return { kind: "failed", reason: step.reason };
    }
  }
}
