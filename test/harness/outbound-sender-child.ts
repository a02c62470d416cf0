// The sending side of the outbound kill -9 test, as its own process: opens the store in
// argv[2] and runs the outbound workers built by createOutbound() from a configuration whose
// resolver is the loopback DNS server at argv[3] (where mx.b.test is 127.0.0.1) and whose MX
// port is argv[4], with leases of argv[5] ms; prints READY once started and EMPTY once the queue
// is empty.
import { parseConfigText } from "../../src/config/index.js";
import { silentLogger } from "../../src/observability/log.js";
import { createOutbound } from "../../src/server/compose.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { outboundConfigText } from "./outbound-pair.js";

const [dataDir, dnsServer, port, lease] = process.argv.slice(2);
const store = await openSqliteStore({ dataDir: dataDir! });
const config = parseConfigText(
  outboundConfigText({ dataDir: dataDir!, dnsServer: dnsServer!, remotePort: Number(port), retry: { scheduleMs: [100], maxLifetimeMs: 600_000, delayWarningMs: 0 }, concurrency: 5, perDestination: 5, commandTimeoutMs: 2000 }),
);
const worker = await createOutbound(config, { mail: store, accounts: store, queue: store, close: () => store.close() }, silentLogger, { pollIntervalMs: 50, leaseMs: Number(lease) });
await worker.start();
process.stdout.write("READY\n");
for (;;) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  if ((await store.listQueue()).length === 0 && (await store.listFinished()).length === 0) {
    process.stdout.write("EMPTY\n");
    await worker.stop();
    await store.close();
    process.exit(0);
  }
}
