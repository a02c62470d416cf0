// The public surface of imap/: the server factory the composition root wires to the imap (143,
// STARTTLS) and imaps (993, implicit TLS) listeners.
export { createImapServer, type ImapServer, type ImapServerOptions, type ImapTlsProvider } from "./imap-server.js";
export type { ImapSessionLimits, SaslAuthenticator } from "./session/imap-session.js";
