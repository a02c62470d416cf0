// ACME certificates shared by the nodes of one PostgreSQL database (issue 15: "a node can be wiped
// and replaced with no loss"), against a real pebble validating every HTTP-01 challenge over
// sockets. Nodes A and B start together: each name is ordered once (one node claims it, the other
// takes up what was stored) and both serve the same certificate by SNI. B renews mx.example.org:
// pebble's HTTP-01 request goes to A's HTTP port (pebble validates on one port, as a balancer
// would send it to any node), A answers from the database, and A serves the renewed certificate
// within acme.shared_check_interval. A third node C with an empty data dir serves it from its
// first connection and orders nothing; no node has an acme/ directory.
// The same for TLS-ALPN-01 (RFC 8737): B orders, pebble's validation connection goes to A's HTTPS
// port, and A answers with the challenge certificate B stored in the database.
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import pg from "pg";
import { connect as connectTls, type PeerCertificate } from "node:tls";
import { createMemoryLogger } from "../../src/observability/log.js";

type MemoryLogger = ReturnType<typeof createMemoryLogger>;
import { createAdmin } from "../../src/server/compose.js";
import { startFullServer, type FullServer } from "../harness/full-server.js";
import { pebbleAvailable, startPebble, type Pebble } from "../harness/pebble.js";
import { postgresUnavailable, startPostgres, type PostgresCluster } from "../harness/postgres.js";

const NAMES = ["mx.example.org", "mta-sts.example.org", "autoconfig.example.org"];
const skip = postgresUnavailable() ?? ((await pebbleAvailable()) ? false : "pebble is not installed");
let cluster: PostgresCluster;
before(async () => {
  if (!skip) cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

async function servedSerial(port: number, servername: string): Promise<string> {
  const socket = connectTls({ host: "127.0.0.1", port, rejectUnauthorized: false, servername });
  await once(socket, "secureConnect");
  const certificate: PeerCertificate = socket.getPeerCertificate();
  socket.destroy();
  return certificate.serialNumber.toUpperCase().replace(/^0+/, "");
}

const normal = (serial: string | null | undefined): string => (serial ?? "").toUpperCase().replace(/^0+/, "");

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function storeToml(url: string, pebble: Pebble, http: string, acme = 'challenges = ["http-01"]\n'): string {
  return (
    `[store]\nbackend = "postgresql"\nurl = "${url}"\n` +
    `${http}` +
    `[acme]\nenabled = true\ndirectory_url = "${pebble.directoryUrl}"\ndirectory_ca_file = ${JSON.stringify(pebble.caFile)}\ncontact = ["postmaster@example.org"]\n` +
    `retry_min = "2s"\n${acme}shared_check_interval = "1s"\n`
  );
}

test("ACME on PostgreSQL: one order per name for two nodes, a renewal by one served by the other, a new node serves the stored certificate", { skip, timeout: 240_000 }, async () => {
  const pebble = await startPebble(NAMES);
  const url = await cluster.createDatabase("acme");
  const logs: Record<string, MemoryLogger> = { a: createMemoryLogger(), b: createMemoryLogger(), c: createMemoryLogger() };
  const dirs = await Promise.all(["a", "b", "c"].map((n) => mkdtemp(join(tmpdir(), `mailroom-acme-${n}-`))));
  const servers: FullServer[] = [];
  try {
    // A has the ports pebble validates on; B's HTTP service is on ports of its own.
    const a = await startFullServer({ log: logs.a, dataDir: dirs[0], protocols: ["imaps"], extraToml: storeToml(url, pebble, `[http]\naddress = "127.0.0.1"\nhttp_port = ${pebble.httpPort}\nhttps_port = ${pebble.tlsPort}\n`) });
    servers.push(a);
    const b = await startFullServer({ log: logs.b, dataDir: dirs[1], protocols: ["imaps"], extraToml: storeToml(url, pebble, "") });
    servers.push(b);
    await createAdmin(a.server.config, a.server.store).addDomain("example.org");
    // Checks on both nodes at once: the claims decide who orders each name.
    for (let round = 0; round < 3; round++) await Promise.all([a.server.acme!.checkNow(), b.server.acme!.checkNow()]);
    const serialOf = (server: FullServer, name: string) => normal(server.server.acme!.status().find((s) => s.name === name)?.serial);
    await waitFor("every name served by both nodes", () => NAMES.every((name) => serialOf(a, name) !== "" && serialOf(a, name) === serialOf(b, name)));
    const issued = [...logs.a!.records, ...logs.b!.records].filter((r) => r.event === "acme.issued");
    assert.deepEqual(issued.map((r) => r["name"]).sort(), [...NAMES].sort(), "each name was ordered once, by one of the nodes");
    for (const server of [a, b]) assert.equal(await servedSerial(server.portOf("imaps"), "mx.example.org"), serialOf(a, "mx.example.org"), "served by SNI");

    // B renews: pebble fetches the token from A's port, and A answers from the database.
    const before = serialOf(a, "mx.example.org");
    const answeredBefore = logs.a!.records.filter((r) => r.event === "acme.http_answered").length;
    const renewed = await b.server.acme!.renew("mx.example.org");
    const fresh = normal(renewed.serial);
    assert.ok(fresh !== "" && fresh !== before, `B ordered a new certificate: ${JSON.stringify(renewed)}`);
    assert.ok(logs.a!.records.filter((r) => r.event === "acme.http_answered").length > answeredBefore, "A answered B's challenge");
    await waitFor("A serves B's renewal", async () => (await servedSerial(a.portOf("imaps"), "mx.example.org")) === fresh, 20_000);
    assert.ok(logs.a!.records.some((r) => r.event === "acme.shared_loaded" && r["name"] === "mx.example.org"));

    // A new node with an empty data dir: the stored certificates from its first connection, no order.
    const c = await startFullServer({ log: logs.c, dataDir: dirs[2], protocols: ["imaps"], extraToml: storeToml(url, pebble, "") });
    servers.push(c);
    assert.equal(await servedSerial(c.portOf("imaps"), "mx.example.org"), fresh);
    await c.server.acme!.checkNow();
    assert.ok(!logs.c!.records.some((r) => r.event === "acme.ordering"), "C ordered nothing");
    for (const dir of dirs) await assert.rejects(stat(join(dir, "acme")), "no node keeps ACME files");
  } finally {
    for (const server of servers.reverse()) await server.stop().catch(() => undefined);
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    await pebble.stop();
  }
});

test("TLS-ALPN-01 on PostgreSQL: a challenge created on node B is answered by node A", { skip, timeout: 240_000 }, async () => {
  const pebble = await startPebble(["mx.example.org"]);
  const url = await cluster.createDatabase("acmealpn");
  const logs: Record<string, MemoryLogger> = { a: createMemoryLogger(), b: createMemoryLogger() };
  const dirs = await Promise.all(["a", "b"].map((n) => mkdtemp(join(tmpdir(), `mailroom-acme-alpn-${n}-`))));
  const servers: FullServer[] = [];
  const alpn = 'challenges = ["tls-alpn-01"]\ndomain_names = false\n';
  try {
    // A's HTTPS port is the one pebble validates on; B's is a port of its own (so B can answer none of it).
    const a = await startFullServer({ log: logs.a, dataDir: dirs[0], protocols: ["imaps"], extraToml: storeToml(url, pebble, `[http]\naddress = "127.0.0.1"\nhttp_port = 0\nhttps_port = ${pebble.tlsPort}\n`, alpn) });
    servers.push(a);
    const b = await startFullServer({ log: logs.b, dataDir: dirs[1], protocols: ["imaps"], extraToml: storeToml(url, pebble, "", alpn) });
    servers.push(b);
    const serialOf = (server: FullServer) => normal(server.server.acme!.status().find((s) => s.name === "mx.example.org")?.serial);
    for (let round = 0; round < 3; round++) await Promise.all([a.server.acme!.checkNow(), b.server.acme!.checkNow()]);
    await waitFor("mx.example.org served by both nodes", () => serialOf(a) !== "" && serialOf(a) === serialOf(b));

    // B orders: the challenge certificate exists in B's memory and in the database, and the CA's
    // connection (acme-tls/1, SNI mx.example.org) reaches A only.
    const before = serialOf(a);
    const answered = (log: MemoryLogger) => log.records.filter((r) => r.event === "acme.alpn_answered" && r["serverName"] === "mx.example.org").length;
    const answeredByA = answered(logs.a!);
    const answeredByB = answered(logs.b!);
    const renewed = await b.server.acme!.renew("mx.example.org");
    const fresh = normal(renewed.serial);
    assert.ok(fresh !== "" && fresh !== before, `B's order over TLS-ALPN-01 succeeded: ${JSON.stringify(renewed)}`);
    assert.ok(logs.b!.records.some((r) => r.event === "acme.challenge" && r["type"] === "tls-alpn-01"), "B created a tls-alpn-01 challenge");
    assert.ok(answered(logs.a!) > answeredByA, "A answered B's challenge");
    assert.equal(answered(logs.b!), answeredByB, "nothing reached B's own HTTPS port");
    assert.ok(!logs.a!.records.some((r) => r.event === "acme.alpn_unexpected"), "A never lacked the answer");
    await waitFor("A serves B's renewal", async () => (await servedSerial(a.portOf("imaps"), "mx.example.org")) === fresh, 20_000);
    // The order removed its answer: a late acme-tls/1 ClientHello finds nothing on either node.
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM acme_alpn_challenges");
      assert.equal(rows[0]!.n, 0, "no challenge certificate is left in the database");
    } finally {
      await db.end();
    }
  } finally {
    for (const server of servers.reverse()) await server.stop().catch(() => undefined);
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    await pebble.stop();
  }
});
