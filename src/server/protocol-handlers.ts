// Which session handler serves each listener protocol. A protocol whose engine is not built yet
// has no entry, so its listener is reported as skipped instead of being bound to something that
// would pretend to serve it.
import type { Authenticator } from "../auth/index.js";
import type { Config, ListenerProtocol } from "../config/index.js";
import type { SessionHandler } from "../net/index.js";
import type { TlsContextProvider } from "../net/tls-context.js";
import type { Logger } from "../observability/log.js";
import type { ComposedStore } from "./compose.js";

export interface ProtocolDependencies {
  config: Config;
  store: ComposedStore;
  tls: TlsContextProvider;
  authenticator: Authenticator;
  log: Logger;
}

export function buildProtocolHandlers(_deps: ProtocolDependencies): Partial<Record<ListenerProtocol, SessionHandler>> {
  return {};
}
