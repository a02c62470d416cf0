// The sending side of the outbound kill -9 test, as its own process: opens the store in
// argv[2], runs the outbound worker against b.test (table DNS: mx.b.test = 127.0.0.1, port
// argv[3]) with leases of argv[4] ms, prints READY once started and EMPTY once the queue is empty.
import { createTableResolver } from "../../src/mail-auth/index.js";
import { silentLogger } from "../../src/observability/log.js";
import { createBounceSink, OutboundWorker } from "../../src/queue/index.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";

const [dataDir, port, lease] = process.argv.slice(2);
const store = await openSqliteStore({ dataDir: dataDir! });
const resolver = createTableResolver({ "b.test": { MX: [{ exchange: "mx.b.test", priority: 10 }] }, "mx.b.test": { A: ["127.0.0.1"] } });
const worker = new OutboundWorker({
  queue: store,
  routing: { resolver, remotePort: Number(port), requireTls: false, routes: {}, smarthost: null },
  client: { heloName: "mx.a.test", connectTimeoutMs: 2000, commandTimeoutMs: 2000 },
  retry: { scheduleMs: [100], maxLifetimeMs: 600_000, delayWarningMs: 0 },
  bounces: createBounceSink({ mail: store, accounts: store, queue: store, log: silentLogger }),
  sign: async () => Buffer.alloc(0),
  concurrency: 5,
  perDestination: 5,
  leaseMs: Number(lease),
  pollIntervalMs: 50,
  hostname: "mx.a.test",
  log: silentLogger,
});
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
