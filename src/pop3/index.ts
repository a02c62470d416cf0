// The public surface of the POP3 engine for the composition root and the tests. The grammar is in
// ./protocol/index.ts.
export { createPop3Server, createPop3SharedState, type Pop3Server, type Pop3ServerOptions, type TlsProvider } from "./pop3-server.js";
export { Pop3Session } from "./pop3-session.js";
export type { Pop3Authenticator, Pop3Limits, Pop3SessionOptions, Pop3SharedState, Pop3Transport, Timers, TimerHandle } from "./types.js";
