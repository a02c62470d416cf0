// Process signals for a running server: SIGTERM and SIGINT stop it gracefully (stop accepting,
// let sessions finish or say goodbye within the grace period, close the store), a second signal
// forces the exit; SIGHUP reloads the TLS certificate for new connections without dropping any.
import type { Logger } from "../observability/log.js";
import type { RunningServer } from "./compose.js";

export function trapSignals(server: RunningServer, log: Logger, exit: (code: number) => void = (code) => process.exit(code)): () => void {
  let stopRequested = false;
  const onStop = (signal: NodeJS.Signals) => {
    if (stopRequested) {
      log.warn("server.forced-exit", { signal });
      exit(1);
      return;
    }
    stopRequested = true;
    server.stop(signal).then(
      () => exit(0),
      (err: unknown) => {
        log.error("server.stop-failed", { signal, error: err });
        exit(1);
      },
    );
  };
  const onReload = () => {
    server.tls.reload().then(
      () => log.info("tls.reloaded", { fingerprint: server.tls.certificate.fingerprint256 }),
      (err: unknown) => log.error("tls.reload-failed", { error: err, note: "the previous certificate stays in use" }),
    );
  };
  process.on("SIGTERM", onStop);
  process.on("SIGINT", onStop);
  process.on("SIGHUP", onReload);
  return () => {
    process.off("SIGTERM", onStop);
    process.off("SIGINT", onStop);
    process.off("SIGHUP", onReload);
  };
}
