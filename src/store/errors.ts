// The store's one error type. Its code is what protocols map to replies: IMAP response codes
// (the names follow RFC 5530 where one fits), SMTP 4xx/5xx, POP3 -ERR.
export type StoreErrorCode =
  | "NONEXISTENT" // mailbox, account, domain or alias not found
  | "ALREADYEXISTS"
  | "CANNOT" // operation refused by the store's rules (e.g. delete INBOX, invalid name)
  | "HASCHILDREN" // delete of a mailbox that has children
  | "HASACCOUNTS" // delete of a domain that still has accounts
  | "OVERQUOTA"
  | "TOOBIG" // message larger than the allowed maximum
  | "INVALID" // malformed argument (bad address, bad flag)
  | "UNAVAILABLE" // backend failure: I/O error, database locked; worth retrying later
  | "NOSPACE" // the disk (or the filesystem quota of the server's user) is full; worth retrying later
  | "DAMAGED"; // a message's stored bytes are missing or not the size its row records (`mailroom store check`)

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StoreError";
  }
}

export const isStoreError = (err: unknown, code?: StoreErrorCode): err is StoreError =>
  err instanceof StoreError && (code === undefined || err.code === code);
