// Power loss, not just process death: the blob directory writes through a SimulatedDisk that keeps
// only what was fsynced (file data, and directory entries once their directory was fsynced). The
// disk "loses power" after a chosen number of filesystem steps, in the middle of concurrent
// deliveries; the database files are copied at that instant. The store reopened on what the disk
// would hold then must have every acknowledged delivery whole in both mailboxes, and no row may
// refer to a missing or torn blob. Two negative controls run the same rounds with file fsyncs,
// then directory fsyncs, skipped, and must find damage: the test sees misplaced fsyncs.
//
// Not covered: SQLite's own writes. They do not go through the layer; the database is copied at
// the crash instant as it is on disk, which is what synchronous=FULL (fsync of the WAL before
// COMMIT returns) promises after power loss. A page cache that reorders or tears SQLite's writes
// is SQLite's own tested guarantee, not this test's.
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import type { DeliveryTarget } from "../mail-store.js";
import { SimulatedDisk } from "../blobs/simulated-disk.js";
import { crashMessage, verifyCrashMessage } from "./crash-message.js";
import { openSqliteStore, type SqliteStore } from "./sqlite-store.js";

const ADDRESSES = ["alice@power.test", "bob@power.test"];
const DATABASE_FILES = ["mailroom.sqlite", "mailroom.sqlite-wal"];
/** Filesystem steps before the power goes, one round each: from the first delivery to many. */
const CRASH_AFTER_STEPS = [7, 23, 41, 66, 97, 130, 178, 241, 317, 405];
const CONCURRENCY = 4;

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** A small deterministic generator, so every run crashes at the same places with the same sizes. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

async function prepare(dataDir: string): Promise<void> {
  const store = await openSqliteStore({ dataDir });
  await store.addDomain("power.test");
  for (const address of ADDRESSES) await store.createAccount({ address, passwordHash: "x" });
  await store.close();
}

async function targetsOf(store: SqliteStore): Promise<DeliveryTarget[]> {
  const targets: DeliveryTarget[] = [];
  for (const address of ADDRESSES) {
    const account = (await store.findAccountByAddress(address))!;
    const inbox = (await store.getMailbox(account.id, "INBOX"))!;
    targets.push({ mailboxId: inbox.id, prefix: Buffer.from(`Delivered-To: ${address}\r\n`) });
  }
  return targets;
}

/**
 * Delivers until the disk loses power; returns the ids acknowledged before that instant, with the
 * crash image (database copied at the crash, blob tree as the disk kept it) in `image`.
 */
async function runUntilPowerLoss(dataDir: string, image: string, disk: SimulatedDisk, random: () => number): Promise<string[]> {
  disk.onCrash = () => {
    // Synchronously, at the step that crashed: no COMMIT can run in between.
    for (const name of DATABASE_FILES) if (existsSync(join(dataDir, name))) copyFileSync(join(dataDir, name), join(image, name));
  };
  const store = await openSqliteStore({ dataDir, blobs: { files: disk } });
  const targets = await targetsOf(store);
  const acknowledged: string[] = [];
  let counter = 0;
  const worker = async (): Promise<void> => {
    while (!disk.hasCrashed) {
      const id = `m${++counter}`;
      const bytes = crashMessage(id, 500 + Math.floor(random() * 30_000));
      const chunks = [];
      for (let i = 0; i < bytes.length; i += 8192) chunks.push(bytes.subarray(i, i + 8192));
      try {
        await store.deliver({ source: Readable.from(chunks), targets });
        // Resolved after the crash means committed after the copy: not acknowledged.
        if (!disk.hasCrashed) acknowledged.push(id);
      } catch (err) {
        if (!disk.hasCrashed) throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await store.close();
  disk.materialize(join(image, "blobs"));
  return acknowledged;
}

/** Everything wrong with the crash image; empty when it kept its promises. */
async function problemsIn(image: string, acknowledged: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  const store = await openSqliteStore({ dataDir: image });
  try {
    const perAccount: Set<string>[] = [];
    for (const address of ADDRESSES) {
      const account = (await store.findAccountByAddress(address))!;
      const inbox = (await store.getMailbox(account.id, "INBOX"))!;
      const uids = (await store.listMessages(inbox.id)).map((m) => m.uid);
      const whole = new Set<string>();
      for (const message of await store.getMessages(inbox.id, uids)) {
        let bytes: Buffer;
        try {
          bytes = await readAll(store.openMessage(message));
        } catch (err) {
          problems.push(`${address} UID ${message.uid}: ${(err as Error).message}`);
          continue;
        }
        const id = bytes.length === message.size ? verifyCrashMessage(bytes.subarray(message.prefixLength)) : null;
        if (id === null) problems.push(`${address} UID ${message.uid}: torn (${bytes.length} of ${message.size} octets)`);
        else whole.add(id);
      }
      perAccount.push(whole);
    }
    for (const id of acknowledged) {
      if (!perAccount.every((ids) => ids.has(id))) problems.push(`acknowledged ${id} is not whole in every mailbox`);
    }
  } finally {
    await store.close();
  }
  return problems;
}

async function round(steps: number, seed: number, sabotage: (disk: SimulatedDisk) => void = () => {}): Promise<{ acknowledged: string[]; problems: string[] }> {
  const base = await mkdtemp(join(tmpdir(), "mailroom-power-"));
  try {
    const dataDir = join(base, "data");
    const image = join(base, "image");
    await prepare(dataDir);
    const disk = new SimulatedDisk(join(dataDir, "blobs"));
    disk.startRecording();
    sabotage(disk);
    disk.crashAfterSteps = steps;
    mkdirSync(image);
    const acknowledged = await runUntilPowerLoss(dataDir, image, disk, seeded(seed));
    return { acknowledged, problems: await problemsIn(image, acknowledged) };
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

test("every acknowledged delivery survives a power cut at any filesystem step, whole", { timeout: 120_000 }, async (t) => {
  let total = 0;
  for (const [i, steps] of CRASH_AFTER_STEPS.entries()) {
    const { acknowledged, problems } = await round(steps, 1000 + i);
    assert.deepEqual(problems, [], `power cut after ${steps} steps`);
    total += acknowledged.length;
  }
  assert.ok(total > 0, "deliveries were acknowledged before the power cuts");
  t.diagnostic(`${total} acknowledged deliveries over ${CRASH_AFTER_STEPS.length} power cuts`);
});

test("negative control: without the file fsync, the power cut loses acknowledged mail", { timeout: 60_000 }, async () => {
  const { acknowledged, problems } = await round(240, 7, (disk) => (disk.skipFileSync = true));
  assert.ok(acknowledged.length > 0);
  assert.ok(problems.length > 0, "a missing file fsync must be caught");
});

test("negative control: without the directory fsync, the power cut loses acknowledged mail", { timeout: 60_000 }, async () => {
  const { acknowledged, problems } = await round(240, 7, (disk) => (disk.skipDirectorySync = true));
  assert.ok(acknowledged.length > 0);
  assert.ok(problems.length > 0, "a missing directory fsync must be caught");
});
