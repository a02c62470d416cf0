// The contract between the listener framework (server/listeners) and a protocol server (SMTP, IMAP,
// POP3): the listener accepts sockets, applies connection limits and implicit TLS, and hands each
// Connection to the protocol's handler. It lives in net/ because protocols may import net/, not server/.

import type { AdmissionRefusal } from "./connection-limits.js";
import type { Connection } from "./connection.js";

export type RefusalReason = AdmissionRefusal;

export interface SessionHandler {
  /**
   * Runs the whole session. When the returned promise settles the listener closes the connection if
   * it is still open; a rejection is logged and the connection destroyed.
   */
  accept(connection: Connection): Promise<void> | void;
  /** Tells a client over a connection limit why it is refused (SMTP 421 4.7.0, IMAP BYE, POP3 -ERR); the listener closes it after. */
  refuse?(connection: Connection, reason: RefusalReason): Promise<void> | void;
  /** Server shutdown: send the protocol's goodbye and close; whatever is left after the grace period is destroyed. */
  shutdown?(connection: Connection): Promise<void> | void;
}
