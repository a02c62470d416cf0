// A message whose bytes are committed to the PostgreSQL blob store and pinned (blob_pins) but not
// yet in any mailbox. The pin is dropped by the first delivery's transaction, or by discard().
import { Readable } from "node:stream";
import type { ParsedMessage } from "../../mail/mime-tree.js";
import type { StagedMessage } from "../mail-store.js";
import type { BlobId } from "../types.js";
import type { BlobStore, WrittenContent } from "./blob-store.js";

export class PgStagedMessage implements StagedMessage {
  private released = false;

  constructor(
    private readonly blobs: BlobStore,
    private readonly written: WrittenContent,
    readonly parsed: ParsedMessage,
    /** Octets with CRLF line ends, counted in the same pass as `parsed`. */
    readonly crlfSize: number,
    private readonly onDiscard: (pin: string) => void,
  ) {}

  get blobId(): BlobId {
    return this.written.id;
  }
  get size(): number {
    return this.written.size;
  }
  get pin(): string {
    return this.written.pin;
  }

  belongsTo(blobs: BlobStore): boolean {
    return this.blobs === blobs;
  }

  open(): Readable {
    return Readable.from(this.blobs.read(this.written.id), { objectMode: false });
  }

  /** The delivery's transaction deleted the pin row. */
  markReleased(): void {
    this.released = true;
  }

  discard(): void {
    if (this.released) return;
    this.released = true;
    this.onDiscard(this.written.pin);
  }
}
