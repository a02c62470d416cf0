// The message body on its way into the store: a stream handed to MailStore.stageMessage when
// DATA or the first BDAT starts, written chunk by chunk as the client sends it, never buffered
// whole (ARCHITECTURE §5.9). Writes wait for the store to take the bytes, so a fast client is held
// back by the disk, not by our memory. Once the message is refused (too big, bare line ending)
// the sink is aborted: the stream errors, the store drops its temporary file, and the session goes
// on reading the client's bytes up to the terminator without keeping them.
import { once } from "node:events";
import { PassThrough } from "node:stream";
import type { MailStore, StagedMessage } from "../../store/index.js";

export class BodySink {
  readonly #stream = new PassThrough({ highWaterMark: 64 * 1024 });
  readonly #staging: Promise<StagedMessage>;
  #settled = false;
  #aborted = false;
  #octets = 0;

  constructor(store: Pick<MailStore, "stageMessage">, maxBytes: number) {
    // abort() destroys the stream with an error. The store's reader sees it when it is still
    // reading; when it has already stopped (it refused the message first), nobody else listens,
    // and an unheard 'error' event would crash the whole process. This listener keeps it heard.
    this.#stream.on("error", noop);
    this.#staging = store.stageMessage(this.#stream, { maxBytes });
    const settle = () => {
      this.#settled = true;
    };
    this.#staging.then(settle, settle);
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  /** Octets written so far (what the store was given). */
  get octets(): number {
    return this.#octets;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.#aborted || chunk.length === 0) return;
    this.#octets += chunk.length;
    if (this.#stream.write(chunk)) return;
    // The store stopped reading: wait for it, unless it failed (then 'drain' never comes).
    await Promise.race([once(this.#stream, "drain").catch(() => undefined), this.#staging.then(noop, noop)]);
  }

  /** Ends the body; resolves with the staged message, or rejects with the store's error. */
  async finish(): Promise<StagedMessage> {
    if (this.#aborted) throw new Error("BodySink.finish after abort");
    this.#stream.end();
    return this.#staging;
  }

  /** Gives up on this body; whatever the store staged is released. */
  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    if (!this.#settled) this.#stream.destroy(new Error("message refused"));
    this.#staging.then((staged) => staged.discard(), noop);
  }
}

function noop(): void {}
