// The COMPRESS=DEFLATE layer (RFC 4978) over a fake transport: uncompressed until switched on,
// each write sync-flushed so it decodes on its own, input inflated in bounded reads even when a
// small input expands enormously (a decompression bomb), and corrupt input ending the stream.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { constants, createDeflateRaw, deflateRawSync, inflateRawSync } from "node:zlib";
import type { ImapTransport } from "./session-options.js";
import { compressibleTransport } from "./deflate-transport.js";

function fakeRaw(input: Buffer[]): ImapTransport & { written: Buffer[] } {
  const written: Buffer[] = [];
  return {
    written,
    read: async () => input.shift() ?? null,
    write: async (bytes) => {
      written.push(Buffer.from(bytes));
    },
    startTls: async () => {},
    close: () => {},
  };
}

describe("deflate transport", () => {
  it("passes bytes through until compression starts", async () => {
    const raw = fakeRaw([Buffer.from("a1 NOOP\r\n")]);
    const t = compressibleTransport(raw);
    assert.equal(t.compressing, false);
    assert.equal((await t.read())?.toString(), "a1 NOOP\r\n");
    await t.write(Buffer.from("a1 OK\r\n"));
    assert.equal(raw.written[0]?.toString(), "a1 OK\r\n");
  });

  it("sync-flushes every write: each one decodes as soon as it is sent", async () => {
    const raw = fakeRaw([]);
    const t = compressibleTransport(raw);
    t.startCompression();
    assert.equal(t.compressing, true);
    const texts = ["* 1 EXISTS\r\n", "* OK still here\r\n", "a2 OK done\r\n"];
    for (const text of texts) await t.write(Buffer.from(text));
    assert.equal(raw.written.length, texts.length);
    // Decoding the writes so far (with the sync-flush markers) gives all text so far.
    const all = Buffer.concat(raw.written);
    assert.equal(inflateRawSync(all, { finishFlush: constants.Z_SYNC_FLUSH }).toString(), texts.join(""));
    const first = inflateRawSync(raw.written[0] ?? Buffer.alloc(0), { finishFlush: constants.Z_SYNC_FLUSH });
    assert.equal(first.toString(), texts[0]);
  });

  it("inflates what the client sends, in its order, across chunk boundaries", async () => {
    const text = Array.from({ length: 500 }, (_, i) => `a${i} FETCH ${i} (FLAGS)\r\n`).join("");
    const compressed = deflateRawSync(Buffer.from(text), { finishFlush: constants.Z_SYNC_FLUSH });
    const chunks: Buffer[] = [];
    for (let i = 0; i < compressed.length; i += 7) chunks.push(compressed.subarray(i, i + 7));
    const t = compressibleTransport(fakeRaw(chunks));
    t.startCompression();
    let got = "";
    for (let chunk = await t.read(); chunk !== null; chunk = await t.read()) got += chunk.toString();
    assert.equal(got, text);
  });

  it("a decompression bomb is read in bounded pieces, never at once", async () => {
    // 64 MiB of one octet compresses to ~64 KiB: one read of it must not yield it all.
    const deflate = createDeflateRaw({ level: 9 });
    const parts: Buffer[] = [];
    deflate.on("data", (c: Buffer) => parts.push(c));
    const zeros = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 64; i++) deflate.write(zeros);
    await new Promise<void>((resolve) => deflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    const compressed = Buffer.concat(parts);
    assert.ok(compressed.length < 2 * 1024 * 1024, `the bomb is small: ${compressed.length}`);
    const t = compressibleTransport(fakeRaw([compressed]));
    t.startCompression();
    let total = 0;
    let largest = 0;
    for (let chunk = await t.read(); chunk !== null; chunk = await t.read()) {
      total += chunk.length;
      largest = Math.max(largest, chunk.length);
    }
    assert.equal(total, 64 * 1024 * 1024);
    assert.ok(largest <= 1100 * 1024, `one read yielded ${largest} octets`);
  });

  it("corrupt compressed input ends the stream instead of throwing", async () => {
    const t = compressibleTransport(fakeRaw([Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x12, 0x34])]));
    t.startCompression();
    let chunk: Buffer | null;
    do chunk = await t.read();
    while (chunk !== null && chunk.length > 0);
    assert.equal(chunk, null);
  });
});
