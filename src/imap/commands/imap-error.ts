// The error commands throw to end with a tagged NO or BAD. Thrown deep, mapped once: the session's
// one catch (imap-session.ts) writes `<tag> NO [CODE] text` / `<tag> BAD [CODE] text`. Texts go to
// the client, so they never hold internals. Store errors are not wrapped here: the session maps
// StoreError codes itself (ImapSession.replyFor).

export type ImapErrorStatus = "NO" | "BAD";

export class ImapError extends Error {
  override readonly name = "ImapError";

  private constructor(
    readonly status: ImapErrorStatus,
    /** Response code without brackets (RFC 5530), e.g. "TRYCREATE", "NONEXISTENT", "COPYUID 1 2 3"; or null. */
    readonly code: string | null,
    text: string,
  ) {
    super(text);
  }

  /** Tagged NO: the command was understood and refused (RFC 9051 §7.1.2). */
  static no(code: string | null, text: string): ImapError {
    return new ImapError("NO", code, text);
  }

  /** Tagged BAD: protocol error, wrong state or unknown command (RFC 9051 §7.1.3). */
  static bad(code: string | null, text: string): ImapError {
    return new ImapError("BAD", code, text);
  }
}
