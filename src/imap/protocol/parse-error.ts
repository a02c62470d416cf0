// The one error type of the pure IMAP grammar. The session answers it with a tagged BAD (or, for
// the few grammar checks that RFC 9051 answers with NO, such as an unusable mailbox name, with NO
// and the given response code). It never carries internals: the text is written to the client.

export type ParseErrorStatus = "BAD" | "NO";

export class ImapParseError extends Error {
  override readonly name = "ImapParseError";
  /** BAD for syntax; NO for a well-formed argument the server refuses (e.g. NO [CANNOT] for a mailbox name). */
  readonly status: ParseErrorStatus;
  /** Response code without brackets, e.g. "CANNOT", "TOOBIG"; null for none. */
  readonly code: string | null;

  constructor(text: string, options: { status?: ParseErrorStatus; code?: string | null } = {}) {
    super(text);
    this.status = options.status ?? "BAD";
    this.code = options.code ?? null;
  }
}
