// The collector against deliveries, stopped at each dangerous point (BlobSyncPoint) and run in a
// fixed order: a delivery of bytes whose file is queued as garbage (content-addressed dedup) must
// end with its row committed AND its file on disk, whichever side reaches the blob first. No
// timing is involved: each side waits at a gate the test opens.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { test } from "node:test";
import { isStoreError } from "../errors.js";
import type { BlobId, MailboxId } from "../types.js";
import type { BlobSyncPoint } from "../blobs/blob-directory.js";
import { openSqliteStore, type SqliteStore } from "./sqlite-store.js";

interface Gate {
  reached: Promise<void>;
  release(): void;
}

/** Stops the side that reaches `point` for `id` until release(); each gate is used once. */
class Gates {
  private readonly armed = new Map<string, { reached(): void; open: Promise<void> }>();

  arm(point: BlobSyncPoint, id: BlobId): Gate {
    let reached!: () => void;
    let release!: () => void;
    const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
    const open = new Promise<void>((resolve) => (release = resolve));
    this.armed.set(`${point} ${id}`, { reached, open });
    return { reached: reachedPromise, release };
  }

  readonly hook = async (point: BlobSyncPoint, id: BlobId): Promise<void> => {
    const gate = this.armed.get(`${point} ${id}`);
    if (!gate) return;
    this.armed.delete(`${point} ${id}`);
    gate.reached();
    await gate.open;
  };
}

const MESSAGE = Buffer.from("Subject: the same bytes again\r\n\r\ncontent-addressed: one file for every copy\r\n");
const BLOB = createHash("sha256").update(MESSAGE).digest("hex") as BlobId;

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Lets every runnable callback and finished I/O run, without any fixed delay. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

interface Scene {
  store: SqliteStore;
  gates: Gates;
  inbox: MailboxId;
  dataDir: string;
}

/** A store whose INBOX once held MESSAGE, expunged: its file is queued as garbage, not yet removed. */
async function withGarbageBlob(run: (scene: Scene) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-gc-race-"));
  const gates = new Gates();
  const store = await openSqliteStore({ dataDir, blobs: { syncPoint: gates.hook }, collector: { orphanMinAgeMs: 0 } });
  try {
    await store.addDomain("example.test");
    const account = await store.createAccount({ address: "a@example.test", passwordHash: "x" });
    const inbox = (await store.getMailbox(account.id, "INBOX"))!.id;
    const first = await store.append(inbox, MESSAGE);
    await store.removeMessages(inbox, [first.uid]);
    assert.ok(await fileExists(dataDir), "the file waits for the collector");
    await run({ store, gates, inbox, dataDir });
  } finally {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function fileExists(dataDir: string, id: BlobId = BLOB): Promise<boolean> {
  try {
    await access(join(dataDir, "blobs", id.slice(0, 2), id));
    return true;
  } catch {
    return false;
  }
}

/** The delivered copy is whole, and its file is still there after the collector caught up. */
async function assertDeliveredWhole(scene: Scene): Promise<void> {
  const { store, inbox, dataDir } = scene;
  const [summary] = await store.listMessages(inbox);
  assert.ok(summary, "the delivery committed its row");
  const [message] = await store.getMessages(inbox, [summary.uid]);
  assert.deepEqual(await readAll(store.openMessage(message!)), MESSAGE);
  await store.collector.runUntilIdle();
  assert.ok(await fileExists(dataDir), "a committed row's file is never collected");
  assert.deepEqual(await readAll(store.openMessage(message!)), MESSAGE);
}

test("dedup: the collector runs while a delivery has found the file and not yet committed", async () => {
  await withGarbageBlob(async (scene) => {
    const gate = scene.gates.arm("writer.placed", BLOB);
    const delivery = scene.store.append(scene.inbox, MESSAGE);
    await gate.reached;
    // The writer pins the blob: a whole tick and a full orphan pass leave the file alone.
    const report = await scene.store.collector.runUntilIdle();
    assert.equal(report.removed, 0);
    assert.equal(report.waiting > 0, true, "the garbage entry waits for the pin");
    assert.ok(await fileExists(scene.dataDir));
    gate.release();
    await delivery;
    await assertDeliveredWhole(scene);
  });
});

test("dedup: the collector comes to the blob while the writer holds its lock after 'exists'", async () => {
  await withGarbageBlob(async (scene) => {
    const gate = scene.gates.arm("writer.locked", BLOB);
    const delivery = scene.store.append(scene.inbox, MESSAGE);
    await gate.reached;
    let ticked = false;
    const tick = scene.store.collector.tick().then((report) => {
      ticked = true;
      return report;
    });
    await settle();
    assert.equal(ticked, false, "the collector waits for the blob's lock");
    gate.release();
    await delivery;
    const report = await tick;
    assert.equal(report.removed, 0);
    await assertDeliveredWhole(scene);
  });
});

test("dedup: a delivery arrives while the collector has decided to remove the file", async () => {
  await withGarbageBlob(async (scene) => {
    const gate = scene.gates.arm("collector.decided", BLOB);
    const tick = scene.store.collector.tick();
    await gate.reached;
    let delivered = false;
    const delivery = scene.store.append(scene.inbox, MESSAGE).then(() => (delivered = true));
    await settle();
    assert.equal(delivered, false, "the writer waits for the blob's lock");
    gate.release();
    assert.equal((await tick).removed, 1, "the old file went");
    await delivery;
    // The writer found no file after the unlink and renamed its own copy into place.
    await assertDeliveredWhole(scene);
  });
});

test("a staged message survives collector ticks and an orphan pass until it is delivered", async () => {
  await withGarbageBlob(async (scene) => {
    const other = Buffer.from("Subject: staged\r\n\r\nverified for a long time before delivery\r\n");
    const staged = await scene.store.stageMessage(other);
    const twin = await scene.store.stageMessage(other);
    twin.discard();
    const report = await scene.store.collector.runUntilIdle();
    assert.equal(report.removed, 1, "only the expunged message's file");
    assert.ok(await fileExists(scene.dataDir, staged.blobId), "pinned by the staged message");
    await scene.store.deliver({ source: staged, targets: [{ mailboxId: scene.inbox }] });
    await scene.store.collector.runUntilIdle();
    const [summary] = await scene.store.listMessages(scene.inbox);
    const [message] = await scene.store.getMessages(scene.inbox, [summary!.uid]);
    assert.deepEqual(await readAll(scene.store.openMessage(message!)), other);
  });
});

test("a staged message whose file was collected after its first delivery is refused, never committed bodiless", async () => {
  await withGarbageBlob(async (scene) => {
    const other = Buffer.from("Subject: delivered, then queued\r\n\r\nbody\r\n");
    const staged = await scene.store.stageMessage(other);
    const { copies } = await scene.store.deliver({ source: staged, targets: [{ mailboxId: scene.inbox }] });
    await scene.store.removeMessages(scene.inbox, [copies[0]!.uid]);
    // The collector has decided on the file when the second use of the staged message comes.
    const gate = scene.gates.arm("collector.decided", staged.blobId);
    const tick = scene.store.collector.tick();
    await gate.reached;
    const again = scene.store.deliver({ source: staged, targets: [{ mailboxId: scene.inbox }] });
    await settle();
    gate.release();
    await tick;
    await assert.rejects(again, (e) => isStoreError(e, "DAMAGED"));
    assert.deepEqual(await scene.store.listMessages(scene.inbox), [], "no row without its file");
  });
});
