// The throwaway PostgreSQL cluster: it starts on a free port, hands out separate databases,
// survives a restart with its data, and leaves nothing behind once stopped.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { test } from "node:test";
import pg from "pg";
import { postgresUnavailable, startPostgres } from "./postgres.js";

const skip = postgresUnavailable() ?? false;

test("a cluster gives fresh databases, restarts with its data, and is removed by stop()", { skip }, async () => {
  const cluster = await startPostgres();
  try {
    const first = await cluster.createDatabase();
    const second = await cluster.createDatabase();
    assert.notEqual(first, second);
    const client = new pg.Client({ connectionString: first });
    await client.connect();
    await client.query("CREATE TABLE t (v int); INSERT INTO t VALUES (42)");
    const settings = await client.query<{ fsync: string; encoding: string }>("SELECT current_setting('fsync') AS fsync, current_setting('server_encoding') AS encoding");
    assert.deepEqual(settings.rows[0], { fsync: "off", encoding: "UTF8" });
    await client.end();
    // The other database is empty: tests do not see each other's tables.
    const other = new pg.Client({ connectionString: second });
    await other.connect();
    await assert.rejects(other.query("SELECT v FROM t"), /does not exist/);
    await other.end();

    await cluster.restart();
    const again = new pg.Client({ connectionString: first });
    await again.connect();
    assert.deepEqual((await again.query("SELECT v FROM t")).rows, [{ v: 42 }]);
    await again.end();
    assert.ok(existsSync(cluster.dataDir));
  } finally {
    await cluster.stop();
  }
  assert.equal(existsSync(cluster.dataDir), false, "the cluster directory is removed");
  // Nothing listens on the port any more.
  const refused = await new Promise<boolean>((resolve) => {
    const socket = connect(cluster.port, "127.0.0.1");
    socket.on("connect", () => (socket.destroy(), resolve(false)));
    socket.on("error", () => resolve(true));
  });
  assert.ok(refused, "the server is stopped");
});
