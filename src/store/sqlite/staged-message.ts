// A message written durably to the blob directory but not yet in any mailbox (SMTP stages DATA,
// verifies it, then delivers or queues it). The staged message keeps its blob pinned, so garbage
// collection spares it, until it is delivered once or discard() is called.
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import type { ParsedMessage } from "../../mail/mime-tree.js";
import type { BlobDirectory, DeferredBlob, WrittenBlob } from "../blobs/blob-directory.js";
import type { StagedMessage } from "../mail-store.js";
import type { BlobId } from "../types.js";

/** Octets of a staged message kept in memory (StagedMessage.head): a typical message whole. */
export const STAGED_HEAD_BYTES = 64 * 1024;

export class SqliteStagedMessage implements StagedMessage {
  private released = false;

  constructor(
    private readonly blobs: BlobDirectory,
    /** A DeferredBlob when staged with deferSync: made durable by the call that delivers it. */
    private readonly written: WrittenBlob | DeferredBlob,
    readonly parsed: ParsedMessage,
    /** Octets with CRLF line ends, counted in the same pass as `parsed`. */
    readonly crlfSize: number,
    /** Called once when the pin is dropped without a delivery: the blob may be garbage now. */
    private readonly onDiscard: (id: BlobId) => void,
    /** The first STAGED_HEAD_BYTES octets, gathered while staging. */
    readonly head?: Buffer,
  ) {}

  get blobId(): BlobId {
    return this.written.id;
  }

  get size(): number {
    return this.written.size;
  }

  /** Whether this staged message came from `blobs` (a foreign one is refused by deliver()). */
  belongsTo(blobs: BlobDirectory): boolean {
    return this.blobs === blobs;
  }

  /** The deferred blob still to be made durable (BlobDirectory.settle), or null. */
  get unsettled(): DeferredBlob | null {
    return "settled" in this.written && !this.written.settled ? this.written : null;
  }

  open(): Readable {
    const unsettled = this.unsettled;
    return unsettled ? createReadStream(unsettled.path) : this.blobs.createReadStream(this.written.id);
  }

  /** Drops the staging pin (after a delivery the rows hold the blob). */
  releasePin(): void {
    if (this.released) return;
    this.released = true;
    this.written.release();
  }

  discard(): void {
    if (this.released) return;
    this.releasePin();
    this.onDiscard(this.written.id);
  }
}
