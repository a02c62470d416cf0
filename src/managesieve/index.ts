// The public surface of the ManageSieve engine (RFC 5804) for the composition root and the tests.
export { createManageSieveServer, type ManageSieveServer, type ManageSieveServerOptions } from "./server.js";
export { ManageSieveSession } from "./session.js";
export type { ManageSieveAuthenticator, ManageSieveLimits, ManageSieveSessionOptions, ManageSieveTransport } from "./types.js";
