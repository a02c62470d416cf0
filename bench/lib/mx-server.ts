// The port 25 role of Mailroom in the bench's own process, on a store the caller opened: the
// production SMTP engine and listener with sender authentication over the given resolver (an
// in-process table, so figures do not depend on the network) and, optionally, the spam checks.
import { Authenticator, AuthThrottle } from "../../src/auth/index.js";
import type { Config } from "../../src/config/index.js";
import type { DnsResolver } from "../../src/mail-auth/index.js";
import { TlsContextProvider } from "../../src/net/index.js";
import { silentLogger } from "../../src/observability/log.js";
import { createInboundVerifier } from "../../src/server/inbound-verifier.js";
import { startListeners } from "../../src/server/listeners.js";
import { createSmtpServer, type SpamChecker } from "../../src/smtp/index.js";
import type { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";

export interface BenchMx {
  port: number;
  stop(): Promise<void>;
}

export async function startBenchMx(options: { store: SqliteStore; config: Config; dataDir: string; resolver: DnsResolver; spam?: SpamChecker | null }): Promise<BenchMx> {
  const { store, config } = options;
  const tls = await TlsContextProvider.open({ certFile: null, keyFile: null, dataDir: options.dataDir, hostname: "mx.bench.test", minVersion: "TLSv1.2", log: silentLogger });
  const smtp = createSmtpServer({
    role: "mx",
    store,
    accounts: store,
    queue: store,
    authenticator: new Authenticator({ accounts: store, throttle: new AuthThrottle(), log: silentLogger }),
    verifier: createInboundVerifier({ accounts: store, resolver: options.resolver, log: silentLogger }),
    spam: options.spam ?? null,
    limits: config.limits,
    tls,
    hostname: "mx.bench.test",
    log: silentLogger,
  });
  const listeners = await startListeners({
    listeners: [{ protocol: "smtp", port: 0, address: "127.0.0.1", tls: "starttls" }],
    tls,
    limits: config.limits,
    log: silentLogger,
    handlerFor: (protocol) => (protocol === "smtp" ? smtp : null),
    portFallbackOffset: 0,
  });
  return { port: listeners.bound[0]!.port, stop: () => listeners.drain(1_000) };
}
