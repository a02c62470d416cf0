// Issue 21 on the PostgreSQL backend: a real `mailroom serve` on a throwaway PostgreSQL receives
// mail over SMTP (python smtplib) and IMAP APPEND (python imaplib) without pause while `mailroom
// backup` and `mailroom backup --incremental-from` run against it through its control socket (a
// REPEATABLE READ dump plus the message files: store/postgresql/backup.ts). One message waits in
// the outbound queue (its smarthost refuses connections). Each archive is verified, then restored
// into an empty database by `mailroom restore`, and a server started on the restore holds every
// message acknowledged before that backup started, with the same UIDVALIDITY, UID, flags and
// bytes; the queued message and the DKIM records are there too. A restore into a database that is
// not empty is refused, and a flipped byte in the archive fails verify.
import assert from "node:assert/strict";
import { chmod, copyFile, mkdir, open, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { assertRestoredHas, PASSWORD, SNAPSHOT, startLoad, type Ack, type Snapshot } from "../harness/backup-load.js";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess } from "../harness/mailroom-process.js";
import { postgresUnavailable, startPostgres, type PostgresCluster } from "../harness/postgres.js";
import { runPython } from "../harness/python.js";
import { run } from "../harness/smtp-clients.js";

const skip = postgresUnavailable() ?? false;
let cluster: PostgresCluster;
before(async () => {
  if (!skip) cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

const QUEUED = String.raw`
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30) as s:
    s.login("alice@example.org", sys.argv[2])
    s.sendmail("alice@example.org", ["far@remote.example"], "From: alice@example.org\r\nTo: far@remote.example\r\nMessage-ID: <queued@test.example>\r\nSubject: waits\r\n\r\nin the queue\r\n")
`;

function configFor(url: string): string {
  return serveConfig({
    plaintextAuthOnLoopback: true,
    listeners: [{ protocol: "smtp" }, { protocol: "imap" }, { protocol: "submission" }],
    extra: `[store]\nbackend = "postgresql"\nurl = "${url}"\n[outbound]\nsmarthost = "127.0.0.1:1"\nsmarthost_tls = "none"\nconnect_timeout = "1s"\nretry_schedule = ["1h"]\n`,
  });
}

test("PostgreSQL backups taken under SMTP and APPEND load restore into an empty database with every acknowledged message, the queue and the keys", { skip, timeout: 480_000 }, async () => {
  const sourceUrl = await cluster.createDatabase("source");
  const s = await makeScratch(configFor(sourceUrl));
  try {
    assert.equal((await runMailroom(["domain", "add", "example.org"], { env: s.env })).code, 0);
    for (const user of ["alice", "bob"]) assert.equal((await runMailroom(["user", "add", `${user}@example.org`], { env: s.env, input: `${PASSWORD}\n` })).code, 0);
    const backups = join(s.dir, "backups");
    await mkdir(backups);
    await chmod(backups, 0o777);
    const full = join(backups, "full.tgz");
    const incremental = join(backups, "incr.tgz");

    const server = await startServeProcess(s.env);
    let original: Snapshot;
    let fullStarted: number;
    let incrementalStarted: number;
    let acks: Ack[];
    try {
      const imapPort = listenerPort(server.banner, "imap");
      const queued = await run("python3", ["-c", QUEUED, String(listenerPort(server.banner, "submission")), PASSWORD], undefined, 60_000);
      assert.equal(queued.code, 0, queued.stderr);
      const load = startLoad(listenerPort(server.banner, "smtp"), imapPort, join(s.dir, "stop-load"));
      try {
        await load.waitFor(60);
        // Date.now() is whole milliseconds and an ack's time is not: an ack seen by now may carry a
        // fraction past it. Every ack already seen happened before now + 1 ms, and the backup starts later.
        fullStarted = Date.now() + 1;
        const first = await runMailroom(["backup", full], { env: s.env, timeoutMs: 180_000 });
        assert.equal(first.code, 0, first.stderr);
        assert.match(first.stdout, /^backup [0-9a-f-]{36} \(full\): /m);
        const duringFirst = load.acks.filter((a) => a.at * 1000 > fullStarted).length;
        await load.waitFor(load.acks.length + 30);
        incrementalStarted = Date.now() + 1;
        const second = await runMailroom(["backup", "--incremental-from", full, incremental], { env: s.env, timeoutMs: 180_000 });
        assert.equal(second.code, 0, second.stderr);
        assert.match(second.stdout, /\(incremental on [0-9a-f-]{36}\)/);
        await load.waitFor(load.acks.length + 10);
        assert.ok(duringFirst + load.acks.filter((a) => a.at * 1000 > incrementalStarted).length > 0, "no message was acknowledged while backing up");
      } finally {
        await load.stop();
      }
      acks = load.acks;
      original = JSON.parse(await runPython(SNAPSHOT, [String(imapPort), PASSWORD])) as Snapshot;
    } finally {
      await server.stop();
    }
    const dnsBefore = await runMailroom(["dns", "example.org"], { env: s.env, timeoutMs: 60_000 });
    assert.equal(dnsBefore.code, 0, dnsBefore.stderr);

    for (const [archive, started, label] of [
      [full, fullStarted, "full"],
      [incremental, incrementalStarted, "incremental"],
    ] as const) {
      const verified = await runMailroom(["backup", "verify", archive], { env: s.env, timeoutMs: 180_000 });
      assert.equal(verified.code, 0, verified.stderr);
      assert.match(verified.stdout, /is complete and every checksum matches/);

      const url = await cluster.createDatabase(`restored_${label}`);
      const configFile = join(s.dir, `restored-${label}.toml`);
      await writeFile(configFile, configFor(url));
      const env = { MAILROOM_CONFIG: configFile, MAILROOM_DATA_DIR: join(s.dir, `restored-${label}`) };
      const restored = await runMailroom(["restore", archive], { env, timeoutMs: 240_000 });
      assert.equal(restored.code, 0, restored.stdout + restored.stderr);
      assert.match(restored.stdout, /counts and sizes read back match/);
      // A second restore into the now used database is refused.
      const again = await runMailroom(["--data-dir", join(s.dir, `again-${label}`), "restore", archive], { env, timeoutMs: 120_000 });
      assert.equal(again.code, 1);
      assert.match(again.stderr, /restore needs an empty database/);

      const restoredServer = await startServeProcess(env);
      try {
        const snapshot = JSON.parse(await runPython(SNAPSHOT, [String(listenerPort(restoredServer.banner, "imap")), PASSWORD])) as Snapshot;
        const checked = assertRestoredHas(original, snapshot, acks, started, label);
        assert.ok(checked >= 60, `${label}: ${checked} acknowledged messages checked`);
        const queue = await runMailroom(["queue", "list"], { env, timeoutMs: 60_000 });
        assert.equal(queue.code, 0, queue.stderr);
        assert.match(queue.stdout, /far@remote\.example/, `${label}: the queued message is in the restored queue`);
      } finally {
        await restoredServer.stop();
      }
      const dns = await runMailroom(["dns", "example.org"], { env, timeoutMs: 60_000 });
      // The DANE block lists the TLSA records of this node's own TLS key: on PostgreSQL the key
      // stays with the node (its data dir), not in the backup, so a restored node has its own.
      assert.equal(withoutDaneBlock(dns.stdout), withoutDaneBlock(dnsBefore.stdout), `${label}: the same DKIM records`);
    }

    // A flipped byte in the middle of the archive fails verify.
    const flipped = join(s.dir, "flipped.tgz");
    await copyFile(full, flipped);
    const size = (await stat(flipped)).size;
    const handle = await open(flipped, "r+");
    try {
      const at = Math.floor(size / 2);
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, at);
      byte[0] = byte[0]! ^ 0x10;
      await handle.write(byte, 0, 1, at);
    } finally {
      await handle.close();
    }
    const damaged = await runMailroom(["backup", "verify", flipped], { env: s.env, timeoutMs: 120_000 });
    assert.equal(damaged.code, 1, damaged.stdout);
  } finally {
    await s.cleanup();
  }
});

/** `mailroom dns` output without its DANE paragraph (from "; DANE (RFC 7672)" to the next blank line). */
function withoutDaneBlock(output: string): string {
  return output.replace(/\n; DANE \(RFC 7672\)[^]*?\n(?=\n)/, "\n");
}
