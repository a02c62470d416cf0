// RFC 4978 COMPRESS=DEFLATE as a layer over the session's transport: once switched on (after the
// tagged OK of COMPRESS, which goes out uncompressed), everything read is inflated and everything
// written is deflated, both as raw DEFLATE (RFC 1951) streams that last as long as the connection.
//
// Decisions of this module:
// - Every write is sync-flushed (Z_SYNC_FLUSH, RFC 4978 §4): the client must see each response
//   (an IDLE update, a tagged OK) without waiting for more output to fill a block.
// - No decompression bombs: compressed input is fed to the inflater at most INFLATE_STEP octets at
//   a time, and the next piece only after the session took what the last one produced. DEFLATE
//   expands at most about 1032:1, so one read() returns at most ~1 MiB, and the session's
//   command reader then applies the usual limits to it (imap_line_length drops an over-long line
//   as it arrives, imap_literal_size bounds literals) exactly as it does to uncompressed input.
//   Node's zlib streams push all the output of one written chunk regardless of back-pressure,
//   which is why the input is cut into steps here instead.
// - Corrupt compressed input ends the connection (read() returns null): nothing after it can be
//   framed any more.
import { setImmediate as nextTurn } from "node:timers/promises";
import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from "node:zlib";
import type { ImapTransport } from "./session-options.js";

/** Compressed octets given to the inflater per step: ≤ ~1 MiB of output (the DEFLATE maximum ratio is ~1032:1). */
export const INFLATE_STEP = 1024;

export interface CompressibleTransport extends ImapTransport {
  /** Switches both directions to DEFLATE from the next octet on. */
  startCompression(): void;
  readonly compressing: boolean;
}

/** Wraps a transport so that COMPRESS can switch it to DEFLATE. */
export function compressibleTransport(raw: ImapTransport): CompressibleTransport {
  let layer: DeflateLayer | null = null;
  return {
    read: () => (layer === null ? raw.read() : layer.read()),
    write: (bytes) => (layer === null ? raw.write(bytes) : layer.write(bytes)),
    startTls: () => raw.startTls(),
    // SCRAM -PLUS reads the TLS link's channel-binding data through the session's transport.
    ...(raw.channelBindings ? { channelBindings: () => raw.channelBindings!() } : {}),
    close: () => {
      layer?.close();
      raw.close();
    },
    startCompression: () => {
      layer ??= new DeflateLayer(raw);
    },
    get compressing() {
      return layer !== null;
    },
  };
}

class DeflateLayer {
  private readonly inflater: InflateRaw;
  private readonly deflater: DeflateRaw;
  private inflated: Buffer[] = [];
  private deflated: Buffer[] = [];
  private pendingInput: Buffer = Buffer.alloc(0);
  private failed = false;
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly raw: ImapTransport) {
    this.inflater = createInflateRaw({ flush: constants.Z_SYNC_FLUSH, chunkSize: 16 * 1024 });
    this.deflater = createDeflateRaw({ flush: constants.Z_SYNC_FLUSH });
    this.inflater.on("data", (chunk: Buffer) => this.inflated.push(chunk));
    this.inflater.on("error", () => {
      this.failed = true;
    });
    this.deflater.on("data", (chunk: Buffer) => this.deflated.push(chunk));
    this.deflater.on("error", () => {
      this.failed = true;
    });
  }

  async read(): Promise<Buffer | null> {
    for (;;) {
      if (this.inflated.length > 0) {
        const out = Buffer.concat(this.inflated);
        this.inflated = [];
        return out;
      }
      if (this.failed) return null;
      if (this.pendingInput.length === 0) {
        const chunk = await this.raw.read();
        if (chunk === null) return null;
        this.pendingInput = chunk;
      }
      const piece = this.pendingInput.subarray(0, INFLATE_STEP);
      this.pendingInput = this.pendingInput.subarray(piece.length);
      await feed(this.inflater, piece);
      // The stream emits its output after the write callback at the latest by the next turn.
      await nextTurn();
    }
  }

  write(bytes: Buffer): Promise<void> {
    const done = this.writes.then(async () => {
      if (this.failed) throw new Error("compression failed");
      if (bytes.length === 0) return;
      await feed(this.deflater, bytes);
      await nextTurn();
      const out = Buffer.concat(this.deflated);
      this.deflated = [];
      await this.raw.write(out);
    });
    this.writes = done.catch(() => {});
    return done;
  }

  close(): void {
    this.failed = true;
    this.inflater.destroy();
    this.deflater.destroy();
  }
}

/** Writes one chunk into a zlib stream; resolves when it is consumed (or the stream failed). */
function feed(stream: InflateRaw | DeflateRaw, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off("error", done);
      resolve();
    };
    stream.once("error", done);
    if (stream.destroyed) return done();
    stream.write(chunk, done);
  });
}
