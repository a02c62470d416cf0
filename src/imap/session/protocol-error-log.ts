// Protocol errors in the log: every tagged or untagged BAD, and every NO the grammar gives (an
// unusable mailbox name, BADCHARSET, a literal over the limit), as one info line with the session
// id, the command and the reply. A client that speaks the protocol wrongly can then be diagnosed
// from the server's side (issue 12: Thunderbird's `APPEND ... UTF8 (~{n+}` was only visible in
// Thunderbird's own log). The reply's text is ours, never the client's bytes beyond the short
// excerpts our error messages quote, so no credential can reach the log this way.
//
// Rate-limited per session, so a hostile client sending junk cannot flood the log: at most
// PROTOCOL_ERROR_BURST lines per PROTOCOL_ERROR_WINDOW_MS; the rest are counted, and the count is
// reported on the next line that is written and, if any remain, when the session ends.
import type { Logger } from "../../observability/log.js";

/** Protocol errors logged per session and window before the rest are only counted. */
export const PROTOCOL_ERROR_BURST = 10;
export const PROTOCOL_ERROR_WINDOW_MS = 60_000;

export interface ProtocolErrorReply {
  /** "FETCH", "UID STORE"; null when the command could not be named. */
  readonly command: string | null;
  readonly status: "BAD" | "NO";
  readonly code: string | null;
  readonly text: string;
}

export class ProtocolErrorLog {
  private windowStart = Number.NEGATIVE_INFINITY;
  private loggedInWindow = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly session: string,
    private readonly now: () => number,
    private readonly limits = { burst: PROTOCOL_ERROR_BURST, windowMs: PROTOCOL_ERROR_WINDOW_MS },
  ) {}

  note(reply: ProtocolErrorReply): void {
    const now = this.now();
    if (now - this.windowStart >= this.limits.windowMs) {
      this.windowStart = now;
      this.loggedInWindow = 0;
    }
    if (this.loggedInWindow >= this.limits.burst) {
      this.suppressed++;
      return;
    }
    this.loggedInWindow++;
    const earlier = this.suppressed;
    this.suppressed = 0;
    this.log.info("imap.protocol_error", {
      session: this.session,
      command: reply.command,
      status: reply.status,
      code: reply.code,
      text: reply.text,
      ...(earlier > 0 ? { suppressedBefore: earlier } : {}),
    });
  }

  /** At the end of the session: the count of errors not logged since the last line, if any. */
  finish(): void {
    if (this.suppressed === 0) return;
    this.log.info("imap.protocol_errors_suppressed", { session: this.session, count: this.suppressed });
    this.suppressed = 0;
  }
}
