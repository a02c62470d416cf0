import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { isStoreError } from "../errors.js";
import type { BlobId } from "../types.js";
import { BlobDirectory, FANOUT_FOLDERS } from "./blob-directory.js";
import { logicalMessageStream } from "./message-bytes.js";
import { SimulatedDisk } from "./simulated-disk.js";

async function withDirectory(run: (blobs: BlobDirectory, root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "mailroom-blobs-"));
  try {
    await run(await BlobDirectory.open(join(root, "blobs")), join(root, "blobs"));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

async function blobIds(blobs: BlobDirectory): Promise<BlobId[]> {
  const ids: BlobId[] = [];
  for (const folder of FANOUT_FOLDERS) ids.push(...(await blobs.listFolder(folder)));
  return ids;
}

const removeOne = async (blobs: BlobDirectory, id: BlobId, referenced: boolean) =>
  (await blobs.removeManyIfUnreferenced([id], () => referenced)).outcomes.get(id);

test("open creates the 256 fan-out folders once, so no write ever creates a folder", async () => {
  await withDirectory(async (blobs, root) => {
    const names = (await readdir(root)).sort();
    assert.equal(names.length, 257);
    assert.deepEqual(names.slice(0, 3), ["00", "01", "02"]);
    assert.deepEqual(names.slice(-2), ["ff", "tmp"]);
    // A second open of the same directory finds everything in place and changes nothing.
    await BlobDirectory.open(root);
    assert.deepEqual((await readdir(root)).sort(), names);
    const written = await blobs.write(Buffer.from("one level\r\n"));
    written.release();
    assert.deepEqual((await readdir(root)).sort(), names, "the write created no folder");
    assert.deepEqual(await blobIds(blobs), [written.id]);
  });
});

test("a folder listing has only well-formed blob names in their own fan-out folder", async () => {
  await withDirectory(async (blobs, root) => {
    const written = await blobs.write(Buffer.from("listed\r\n"));
    written.release();
    const otherFolder = written.id.startsWith("00") ? "11" : "00";
    await writeFile(join(root, written.id.slice(0, 2), "not-a-blob"), "x");
    // A blob name in a folder that is not its own (a copy, not a blob of ours).
    await writeFile(join(root, otherFolder, written.id), "x");
    assert.deepEqual(await blobIds(blobs), [written.id]);
  });
});

test("a blob is named by its SHA-256 under one fan-out level and reads back exactly", async () => {
  await withDirectory(async (blobs, root) => {
    const body = Buffer.from("Subject: hi\r\n\r\nhello\r\n");
    const written = await blobs.write(Readable.from([body.subarray(0, 5), body.subarray(5)]));
    written.release();
    const id = sha256(body);
    assert.equal(written.id, id);
    assert.equal(written.size, body.length);
    assert.deepEqual(await readFile(join(root, id.slice(0, 2), id)), body);
    assert.deepEqual(await collect(blobs.createReadStream(written.id)), body);
    assert.deepEqual(await collect(blobs.createReadStream(written.id, { start: 2, end: 7 })), body.subarray(2, 7));
    assert.deepEqual(await readdir(join(root, "tmp")), []);
  });
});

test("the same bytes written twice give one file", async () => {
  await withDirectory(async (blobs, root) => {
    const body = Buffer.from("same bytes\r\n");
    const [a, b] = await Promise.all([blobs.write(body), blobs.write(body)]);
    assert.equal(a.id, b.id);
    assert.deepEqual(await readdir(join(root, a.id.slice(0, 2))), [a.id]);
    assert.deepEqual(await readdir(join(root, "tmp")), []);
  });
});

test("TOOBIG stops reading the source as soon as the limit is passed and leaves no file", async () => {
  await withDirectory(async (blobs, root) => {
    let pulled = 0;
    async function* endless(): AsyncGenerator<Buffer> {
      for (;;) {
        pulled++;
        yield Buffer.alloc(1000, 0x61);
      }
    }
    await assert.rejects(blobs.write(endless(), { maxBytes: 2500 }), (err) => isStoreError(err, "TOOBIG"));
    assert.equal(pulled, 3);
    assert.deepEqual(await readdir(join(root, "tmp")), []);
    assert.deepEqual(await blobIds(blobs), []);
  });
});

test("a source that fails mid-stream leaves no temp file and keeps its error", async () => {
  await withDirectory(async (blobs, root) => {
    async function* broken(): AsyncGenerator<Buffer> {
      yield Buffer.from("partial");
      throw new Error("connection reset");
    }
    await assert.rejects(blobs.write(broken()), /connection reset/);
    assert.deepEqual(await readdir(join(root, "tmp")), []);
  });
});

test("the inspector sees every byte in order", async () => {
  await withDirectory(async (blobs) => {
    const seen: Buffer[] = [];
    const written = await blobs.write(Readable.from([Buffer.from("ab"), Buffer.from("cd")]), { inspector: { push: (c) => seen.push(c) } });
    written.release();
    assert.equal(Buffer.concat(seen).toString(), "abcd");
  });
});

test("garbage collection spares pinned, referenced and (when asked) young blobs and removes the rest", async () => {
  await withDirectory(async (blobs) => {
    const written = await blobs.write(Buffer.from("collect me"));
    assert.equal(await removeOne(blobs, written.id, false), "pinned", "pinned until released");
    written.release();
    assert.equal(await removeOne(blobs, written.id, true), "referenced");
    const young = await blobs.removeManyIfUnreferenced([written.id], () => false, { minAgeMs: 60_000 });
    assert.equal(young.outcomes.get(written.id), "young");
    assert.equal(await removeOne(blobs, written.id, false), "removed");
    assert.deepEqual(await blobIds(blobs), []);
    assert.equal(await removeOne(blobs, written.id, false), "absent");
    assert.equal((await blobs.removeManyIfUnreferenced(["not-a-blob-id" as BlobId], () => false)).outcomes.size, 0);
  });
});

test("removeManyIfUnreferenced removes a batch, sparing pinned and referenced blobs, each id once", async () => {
  await withDirectory(async (blobs) => {
    const written = await Promise.all(Array.from({ length: 20 }, (_, i) => blobs.write(Buffer.from(`message ${i}`))));
    for (const blob of written.slice(1)) blob.release();
    const referenced = written[2]!.id;
    const ids = [...written.map((blob) => blob.id), written[5]!.id, "not-a-blob-id" as BlobId];
    const result = await blobs.removeManyIfUnreferenced(ids, (id) => id === referenced);
    assert.deepEqual(result.failed, []);
    const removed = [...result.outcomes].filter(([, outcome]) => outcome === "removed").map(([id]) => id);
    assert.deepEqual(new Set(removed), new Set(written.slice(1).map((blob) => blob.id).filter((id) => id !== referenced)));
    assert.equal(result.outcomes.get(written[0]!.id), "pinned");
    assert.deepEqual(new Set(await blobIds(blobs)), new Set([written[0]!.id, referenced]));
    written[0]!.release();
  });
});

test("readInto reads the whole blob after a prefix; a vanished blob is false, a short one an error", async () => {
  await withDirectory(async (blobs) => {
    const written = await blobs.write(Buffer.from("the body"));
    written.release();
    const target = Buffer.alloc(3 + written.size, "P");
    assert.equal(await blobs.readInto(written.id, target, 3), true);
    assert.equal(target.toString(), "PPPthe body");
    await assert.rejects(blobs.readInto(written.id, Buffer.alloc(3 + written.size + 1), 3), /size/);
    assert.equal(await removeOne(blobs, written.id, false), "removed");
    assert.equal(await blobs.readInto(written.id, target, 3), false);
  });
});

test("a temp file goes only when its writer is certainly gone", async () => {
  await withDirectory(async (blobs, root) => {
    const uuid = "0f0e0d0c-0b0a-4908-8706-050403020100";
    // A pid that cannot exist (above every pid_max): the writer is gone.
    const dead = `4194999-${uuid}`;
    // The parent of this process is alive: its file stays until untouched for the stale age.
    const live = `${process.ppid}-${uuid}`;
    // Ours, but not being written: a leftover of a failed write of this process.
    const ours = `${process.pid}-${uuid}`;
    for (const name of [dead, live, ours]) await writeFile(join(root, "tmp", name), "half a message");
    assert.equal(await blobs.removeTemporaryIfStale(dead, 3_600_000), true);
    assert.equal(await blobs.removeTemporaryIfStale(live, 3_600_000), false, "a live pid's recent file stays");
    assert.equal(await blobs.removeTemporaryIfStale(live, 3_600_000, Date.now() + 3_600_000), true, "untouched for the stale age");
    assert.equal(await blobs.removeTemporaryIfStale(ours, 3_600_000), true);
    assert.deepEqual(await readdir(join(root, "tmp")), []);
  });
});

test("a temp file being written is never removed", async () => {
  await withDirectory(async (blobs, root) => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    async function* slow(): AsyncGenerator<Buffer> {
      yield Buffer.from("first half ");
      await gate;
      yield Buffer.from("second half\r\n");
    }
    const writing = blobs.write(slow());
    let names: string[] = [];
    while (names.length === 0) {
      await new Promise((resolve) => setImmediate(resolve));
      names = await readdir(join(root, "tmp"));
    }
    assert.equal(await blobs.removeTemporaryIfStale(names[0]!, 0, Date.now() + 86_400_000), false);
    release();
    const written = await writing;
    written.release();
    assert.deepEqual(await collect(blobs.createReadStream(written.id)), Buffer.from("first half second half\r\n"));
  });
});

test("the logical message is prefix then blob, and any range of it is exact", async () => {
  await withDirectory(async (blobs) => {
    const prefix = Buffer.from("Return-Path: <a@b>\r\n");
    const body = Buffer.from("Subject: x\r\n\r\nbody\r\n");
    const written = await blobs.write(body);
    written.release();
    const whole = Buffer.concat([prefix, body]);
    assert.deepEqual(await collect(logicalMessageStream(blobs, prefix, written.id)), whole);
    for (const [start, end] of [[0, 5], [3, prefix.length], [prefix.length - 2, prefix.length + 4], [prefix.length + 1, whole.length], [5, 1000], [whole.length, whole.length + 3], [7, 7]] as const) {
      assert.deepEqual(await collect(logicalMessageStream(blobs, prefix, written.id, { start, end })), whole.subarray(start, end), `range ${start}-${end}`);
    }
    assert.deepEqual(await collect(logicalMessageStream(blobs, Buffer.alloc(0), written.id, { start: 2 , end: Infinity })), body.subarray(2));
  });
});

test("while a backup holds removals no file is removed; released, the removal happens", async () => {
  await withDirectory(async (blobs) => {
    const written = await blobs.write(Buffer.from("Subject: kept for the backup\r\n\r\nx\r\n"));
    written.release();
    const release = blobs.holdRemovals();
    const held = await blobs.removeManyIfUnreferenced([written.id], () => false);
    assert.equal(held.outcomes.get(written.id), "pinned");
    assert.equal(await blobs.sizeOf(written.id), 35);
    release();
    release();
    const removed = await blobs.removeManyIfUnreferenced([written.id], () => false);
    assert.equal(removed.outcomes.get(written.id), "removed");
    assert.equal(await blobs.sizeOf(written.id), null);
  });
});

test("deferred writes: nothing under a blob name before settle(); settle makes each durable once (power loss after it keeps every byte), release() before it leaves nothing", async () => {
  const root = await mkdtemp(join(tmpdir(), "mailroom-blobs-"));
  try {
    const dir = join(root, "blobs");
    await BlobDirectory.open(dir);
    const disk = new SimulatedDisk(dir);
    disk.startRecording();
    const blobs = await BlobDirectory.open(dir, { files: disk });
    const bodies = [Buffer.from("first deferred\r\n"), Buffer.from("second deferred\r\n"), Buffer.from("first deferred\r\n")];
    const pending = await Promise.all(bodies.map((body) => blobs.writeDeferred(body)));
    const dropped = await blobs.writeDeferred(Buffer.from("never settled\r\n"));
    assert.deepEqual(await blobIds(blobs), [], "no blob name before settle");
    assert.equal(pending[0]!.settled, false);
    assert.deepEqual(await readFile(pending[1]!.path), bodies[1], "readable from its temp file meanwhile");
    dropped.release();
    await blobs.settle(pending);
    await blobs.settle(pending); // settled already: nothing done twice
    assert.ok(pending.every((blob) => blob.settled));
    assert.equal(pending[0]!.id, pending[2]!.id, "the same bytes twice are one blob");
    assert.deepEqual((await blobIds(blobs)).sort(), [pending[0]!.id, pending[1]!.id].sort());
    assert.deepEqual(await readdir(join(dir, "tmp")), [], "the temp files were renamed or dropped, the released one removed");
    // Pinned until released: the collector keeps them though nothing refers to them yet.
    assert.equal(await removeOne(blobs, pending[1]!.id, false), "pinned");
    disk.crash();
    const image = join(root, "after-power-loss");
    disk.materialize(image);
    for (const [i, blob] of pending.entries()) assert.deepEqual(await readFile(join(image, blob.id.slice(0, 2), blob.id)), bodies[i], "durable name and bytes");
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("a write of bytes a settle() batch has renamed but not yet made durable fsyncs the folder itself before it returns", async () => {
  const root = await mkdtemp(join(tmpdir(), "mailroom-blobs-"));
  try {
    const dir = join(root, "blobs");
    await BlobDirectory.open(dir);
    const disk = new SimulatedDisk(dir);
    disk.startRecording();
    // The batch stops right after its rename, before its folder fsync (settleFiles).
    let renamed!: () => void;
    const atRename = new Promise<void>((resolve) => (renamed = resolve));
    let resume!: () => void;
    const held = new Promise<void>((resolve) => (resume = resolve));
    let holding = true;
    const blobs = await BlobDirectory.open(dir, {
      files: disk,
      syncPoint: async (point) => {
        if (point !== "writer.placed" || !holding) return;
        holding = false;
        renamed();
        await held;
      },
    });
    const body = Buffer.from("the same bytes, imported and delivered at once\r\n");
    const deferred = await blobs.writeDeferred(body);
    const settling = blobs.settle([deferred]);
    await atRename;
    // A delivery of the same bytes: its rows would commit once write() returns.
    const delivered = await blobs.write(body);
    disk.crash();
    const image = join(root, "after-power-loss");
    disk.materialize(image);
    assert.deepEqual(await readFile(join(image, delivered.id.slice(0, 2), delivered.id)), body, "the name the delivery refers to survives a power loss");
    resume();
    await settling.catch(() => {}); // the crashed disk fails the rest of the batch
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
