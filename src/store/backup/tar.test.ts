// The backup archive's tar layer (tar.ts): what it writes, GNU tar reads (long names through a pax
// header, empty files, sizes that are not a multiple of 512), and what it reads back is the same;
// a damaged header and a cut-short archive are errors that say where.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { test } from "node:test";
import { readTar, TarWriter } from "./tar.js";

async function build(files: [string, Buffer][]): Promise<Buffer> {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on("data", (c: Buffer) => parts.push(c));
  const tar = new TarWriter(out);
  for (const [name, body] of files) await tar.addFile(name, body.length, [body.subarray(0, 7), body.subarray(7)]);
  await tar.finish();
  out.end();
  return Buffer.concat(parts);
}

async function entriesOf(archive: Buffer): Promise<[string, string][]> {
  const found: [string, string][] = [];
  for await (const entry of readTar(Readable.from([archive.subarray(0, 700), archive.subarray(700)]))) {
    const parts: Buffer[] = [];
    for await (const chunk of entry.body()) parts.push(chunk);
    found.push([entry.name, Buffer.concat(parts).toString()]);
  }
  return found;
}

const longName = `files/dkim/${"sub.".repeat(40)}example.org/selector.pem`;
const FILES: [string, Buffer][] = [
  ["mailroom-backup.json", Buffer.from('{"a":1}')],
  ["empty", Buffer.alloc(0)],
  [longName, Buffer.from("x".repeat(1500))],
  ["blobs/" + "a".repeat(64), Buffer.from("y".repeat(512))],
];

test("round trip, and GNU tar reads the same names and bytes", async () => {
  const archive = await build(FILES);
  assert.deepEqual(await entriesOf(archive), FILES.map(([n, b]) => [n, b.toString()]));
  const dir = await mkdtemp(join(tmpdir(), "mailroom-tar-"));
  try {
    await writeFile(join(dir, "a.tar"), archive);
    const listed = execFileSync("tar", ["-tf", join(dir, "a.tar")], { encoding: "utf8" }).trim().split("\n");
    assert.deepEqual(listed, FILES.map(([n]) => n));
    execFileSync("tar", ["-xf", join(dir, "a.tar"), "-C", dir]);
    assert.equal(await readFile(join(dir, longName), "utf8"), "x".repeat(1500));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a damaged header and a truncated archive are errors naming the entry before", async () => {
  const archive = await build(FILES);
  const damaged = Buffer.from(archive);
  // The second header (after the 512-byte header and one data block of the first entry).
  damaged[1024 + 3] = damaged[1024 + 3]! ^ 0x01;
  await assert.rejects(entriesOf(damaged), /damaged tar header after entry mailroom-backup\.json/);
  await assert.rejects(entriesOf(archive.subarray(0, archive.length - 1024)), /truncated/);
  await assert.rejects(entriesOf(archive.subarray(0, 1024 + 512 + 100)), /truncated/);
  // A file that grows or shrinks while it is archived is refused, not archived torn.
  const tar = new TarWriter(new PassThrough().resume());
  await assert.rejects(tar.addFile("f", 10, [Buffer.alloc(5)]), /5 bytes instead of the 10/);
});
