// Issue 21's proof for backups: a real `mailroom serve` receives mail over SMTP (python smtplib)
// and IMAP APPEND (python imaplib) without pause while `mailroom backup` and then
// `mailroom backup --incremental-from` run against it through its control socket. Each backup is
// verified, restored into a fresh data dir, and a server started on the restore must hold every
// message acknowledged before that backup started: same UIDVALIDITY, UID, flags and bytes as the
// original server has them. The restore passes `mailroom store check`. Also over the real
// command: verify names the entry of a flipped byte, restore refuses a non-empty data dir, and a
// truncated archive is a clear error that leaves no store behind.
import assert from "node:assert/strict";
import { chmod, copyFile, mkdir, open, readdir, stat, truncate } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess } from "../harness/mailroom-process.js";
import { runPython } from "../harness/python.js";
import { assertRestoredHas, PASSWORD, SNAPSHOT, startLoad, type Ack, type Snapshot } from "../harness/backup-load.js";

const CONFIG = serveConfig({ plaintextAuthOnLoopback: true, listeners: [{ protocol: "smtp" }, { protocol: "imap" }] });

test("backups taken under SMTP and APPEND load restore every message acknowledged before them, with UIDs, flags and bytes", async () => {
  const s = await makeScratch(CONFIG);
  try {
    assert.equal((await runMailroom(["--init", "domain", "add", "example.org"], { env: s.env })).code, 0);
    for (const user of ["alice", "bob"]) assert.equal((await runMailroom(["user", "add", `${user}@example.org`], { env: s.env, input: `${PASSWORD}\n` })).code, 0);
    // The server (and an admin command talking to it) runs as server.user: the archive folder must be its to write.
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
      const smtpPort = listenerPort(server.banner, "smtp");
      const imapPort = listenerPort(server.banner, "imap");
      const load = startLoad(smtpPort, imapPort, join(s.dir, "stop-load"));
      try {
        await load.waitFor(80);
        // Date.now() is whole milliseconds and an ack's time is not: an ack seen by now may carry a
        // fraction past it. Every ack already seen happened before now + 1 ms, and the backup starts later.
        fullStarted = Date.now() + 1;
        const first = await runMailroom(["backup", full], { env: s.env, timeoutMs: 120_000 });
        assert.equal(first.code, 0, first.stderr);
        assert.match(first.stdout, /^backup [0-9a-f-]{36} \(full\): /m);
        const duringFirst = load.acks.filter((a) => a.at * 1000 > fullStarted).length;
        await load.waitFor(load.acks.length + 40);
        incrementalStarted = Date.now() + 1;
        const second = await runMailroom(["backup", "--incremental-from", full, incremental], { env: s.env, timeoutMs: 120_000 });
        assert.equal(second.code, 0, second.stderr);
        assert.match(second.stdout, /\(incremental on [0-9a-f-]{36}\)/);
        await load.waitFor(load.acks.length + 20);
        // The load really ran while the backups were taken (messages acknowledged after the first began).
        assert.ok(duringFirst + load.acks.filter((a) => a.at * 1000 > incrementalStarted).length > 0, "no message was acknowledged while backing up");
        // A backup never overwrites.
        const again = await runMailroom(["backup", full], { env: s.env });
        assert.equal(again.code, 1);
        assert.match(again.stderr, /already exists/);
      } finally {
        await load.stop();
      }
      acks = load.acks;
      original = JSON.parse(await runPython(SNAPSHOT, [String(imapPort), PASSWORD])) as Snapshot;
    } finally {
      await server.stop();
    }

    // The incremental archive holds fewer message files than the full one: only those added since.
    const fullManifest = (await readFileText(`${full}.manifest.jsonl`)).split("\n").filter((l) => l.includes('"blob"'));
    const incrementalLines = (await readFileText(`${incremental}.manifest.jsonl`)).split("\n").filter((l) => l.includes('"blob"'));
    const fullId = (JSON.parse((await readFileText(`${full}.manifest.jsonl`)).split("\n")[0]!) as { id: string }).id;
    assert.ok(incrementalLines.some((l) => l.includes(`"in":"${fullId}"`)), "the incremental backup refers to its base");
    assert.ok(incrementalLines.length > fullManifest.length);

    for (const [archive, started, label] of [
      [full, fullStarted, "full"],
      [incremental, incrementalStarted, "incremental"],
    ] as const) {
      const verified = await runMailroom(["backup", "verify", archive], { env: s.env, timeoutMs: 120_000 });
      assert.equal(verified.code, 0, verified.stderr);
      assert.match(verified.stdout, /is complete and every checksum matches/);
      const restoredDir = join(s.dir, `restored-${label}`);
      const restored = await runMailroom(["--data-dir", restoredDir, "restore", archive], { env: s.env, timeoutMs: 120_000 });
      assert.equal(restored.code, 0, restored.stderr);
      const checked = await runMailroom(["--data-dir", restoredDir, "store", "check"], { env: s.env });
      assert.equal(checked.code, 0, checked.stdout + checked.stderr);
      assert.match(checked.stdout, /store check: clean/);
      const again = await startServeProcess({ ...s.env, MAILROOM_DATA_DIR: restoredDir });
      try {
        const snapshot = JSON.parse(await runPython(SNAPSHOT, [String(listenerPort(again.banner, "imap")), PASSWORD])) as Snapshot;
        const count = assertRestoredHas(original, snapshot, acks, started, label);
        assert.ok(count >= (label === "full" ? 80 : 120), `${label}: only ${count} messages checked`);
        // Nothing in the restore that the original server does not have, as it has it.
        for (const user of Object.keys(snapshot)) {
          for (const [uid, message] of Object.entries(snapshot[user]!.messages)) assert.deepEqual(message, original[user]!.messages[uid], `${label}: extra or changed ${user} UID ${uid}`);
        }
      } finally {
        await again.stop();
      }
    }

    // Restore refuses a data dir that is not empty, and names it.
    const busy = await runMailroom(["--data-dir", join(s.dir, "restored-full"), "restore", full], { env: s.env });
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /restore needs an empty data dir, and .*restored-full is not/);

    // A flipped byte: verify fails naming the file and the entry where the damage showed.
    const size = (await stat(full)).size;
    const flipped = join(s.dir, "flipped.tgz");
    await copyFile(full, flipped);
    const handle = await open(flipped, "r+");
    const at = Math.floor(size / 2);
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, at);
    await handle.write(Buffer.from([byte[0]! ^ 0x04]), 0, 1, at);
    await handle.close();
    const damaged = await runMailroom(["backup", "verify", flipped], { env: s.env, timeoutMs: 120_000 });
    assert.equal(damaged.code, 1);
    // Which check catches it depends on where the byte fell: gzip's, a tar header's, or an entry's SHA-256.
    assert.match(damaged.stderr, /flipped\.tgz: /);
    assert.match(damaged.stderr, /damaged|truncated|checksum/);
    assert.match(damaged.stderr, /entry (blobs\/[0-9a-f]{64}|db\/mailroom\.sqlite|manifest\.jsonl|mailroom-backup\.json|files\/\S+)|at the start of the archive/);

    // A truncated archive: a clear error, and the target is left without anything that looks like a store.
    const short = join(s.dir, "short.tgz");
    await copyFile(full, short);
    await truncate(short, Math.floor(size * 0.7));
    const target = join(s.dir, "restored-short");
    const cut = await runMailroom(["--data-dir", target, "restore", short], { env: s.env, timeoutMs: 120_000 });
    assert.equal(cut.code, 1);
    assert.match(cut.stderr, /short\.tgz: the archive is truncated/);
    const left = await readdir(target).catch(() => [] as string[]);
    assert.deepEqual(left, []);
    const noStore = await runMailroom(["--data-dir", target, "user", "list"], { env: s.env });
    assert.match(noStore.stderr, /no Mailroom store in/);
  } finally {
    await s.cleanup();
  }
});

async function readFileText(path: string): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  return readFile(path, "utf8");
}
