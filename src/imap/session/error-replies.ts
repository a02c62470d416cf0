// The one mapping from a thrown error to the tagged reply (ARCHITECTURE §5.5): grammar errors and
// ImapError carry their own status and code; store errors map by code (RFC 5530 names); anything
// else is a bug, answered NO [SERVERBUG] without internals and logged with the connection id.
import { isStoreError, type StoreErrorCode } from "../../store/index.js";
import { ImapError } from "../commands/imap-error.js";
import { ImapParseError } from "../protocol/parse-error.js";

export interface TaggedFailure {
  status: "NO" | "BAD";
  code: string | null;
  text: string;
  /** True when the error is unexpected and must be logged as an error. */
  bug: boolean;
}

const STORE_REPLIES: Readonly<Record<StoreErrorCode, { code: string; text: string }>> = {
  NONEXISTENT: { code: "NONEXISTENT", text: "no such mailbox" },
  ALREADYEXISTS: { code: "ALREADYEXISTS", text: "mailbox already exists" },
  CANNOT: { code: "CANNOT", text: "operation not permitted" },
  // RFC 9051 §7.1: HASCHILDREN refuses deleting a mailbox with inferiors.
  HASCHILDREN: { code: "HASCHILDREN", text: "mailbox has children" },
  HASACCOUNTS: { code: "CANNOT", text: "operation not permitted" },
  OVERQUOTA: { code: "OVERQUOTA", text: "quota exceeded" },
  TOOBIG: { code: "TOOBIG", text: "message too large" },
  INVALID: { code: "CANNOT", text: "invalid argument" },
  UNAVAILABLE: { code: "UNAVAILABLE", text: "temporarily unavailable, try again later" },
  // The server's disk, not this user's quota (that is OVERQUOTA, RFC 5530 §3): a condition of the
  // whole server that passes, which RFC 5530 calls UNAVAILABLE; OVERQUOTA would have the user
  // delete mail that is not the cause.
  NOSPACE: { code: "UNAVAILABLE", text: "server storage is full, try again later" },
  // RFC 5530 §3 SERVERBUG: the server broke its own invariant (a stored message lost its file).
  DAMAGED: { code: "SERVERBUG", text: "message data is missing on the server" },
};

export function failureFor(error: unknown): TaggedFailure {
  if (error instanceof ImapParseError || error instanceof ImapError) return { status: error.status, code: error.code, text: error.message, bug: false };
  if (isStoreError(error)) {
    const mapped = STORE_REPLIES[error.code];
    return { status: "NO", code: mapped.code, text: mapped.text, bug: false };
  }
  return { status: "NO", code: "SERVERBUG", text: "internal server error", bug: true };
}
