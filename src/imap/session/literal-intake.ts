// The literals of the command being read that go to the store instead of memory (APPEND's
// messages, RFC 9051 §6.3.12, RFC 3502): each streamed literal becomes a PassThrough handed to
// MailStore.stageMessage as its first octet arrives, and is fed with back-pressure (the session
// reads no more from the socket until the store has taken the chunk). Collected literals (tests,
// or a client-side layout the reader did not stream) are staged from their chunks on request.
//
// Whatever a command leaves staged (it failed, or the session ended mid-literal) is discarded by
// release(); a delivered message's discard() is a no-op. A staging failure (disk full) does not
// stop the intake: the rest of the literal is read and dropped, and the command gets the error.
import { PassThrough, Readable } from "node:stream";
import type { MailStore, StagedMessage } from "../../store/index.js";
import type { LiteralPiece } from "../protocol/arguments.js";

interface Incoming {
  readonly stream: PassThrough;
  /** Settles with the staging; never rejects. */
  readonly settled: Promise<void>;
  failed: boolean;
}

export class LiteralIntake {
  private streamed: Promise<StagedMessage>[] = [];
  private collected: Promise<StagedMessage>[] = [];
  private incoming: Incoming | null = null;

  constructor(
    private readonly store: Pick<MailStore, "stageMessage">,
    private readonly maxBytes: () => number,
  ) {}

  /** A streamed literal of `size` octets begins; its octets follow through feed(). */
  begin(size: number): void {
    this.incoming?.stream.destroy();
    const stream = new PassThrough();
    // A write racing a failed staging must not surface as an unhandled 'error'.
    stream.on("error", () => undefined);
    const staging = this.store.stageMessage(stream, { maxBytes: this.maxBytes() });
    const incoming: Incoming = {
      stream,
      failed: false,
      settled: staging.then(
        () => undefined,
        () => {
          incoming.failed = true;
          stream.destroy();
        },
      ),
    };
    staging.catch(() => undefined);
    this.streamed.push(staging);
    this.incoming = incoming;
    if (size === 0) this.finishIncoming();
  }

  /** Octets of the current streamed literal; resolves once the store can take more. */
  async feed(chunk: Buffer, remaining: number): Promise<void> {
    const incoming = this.incoming;
    if (incoming === null) return;
    if (!incoming.failed && !incoming.stream.destroyed && !incoming.stream.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          incoming.stream.off("drain", done);
          resolve();
        };
        incoming.stream.on("drain", done);
        void incoming.settled.then(done);
      });
    }
    if (remaining === 0) this.finishIncoming();
  }

  /** The staged message of a literal of the current command (streamed or collected). */
  stage(piece: LiteralPiece, maxBytes: number): Promise<StagedMessage> {
    if (piece.streamed !== undefined) {
      const staged = this.streamed[piece.streamed];
      if (staged === undefined) return Promise.reject(new Error(`no streamed literal #${piece.streamed}`));
      return staged;
    }
    const staged = this.store.stageMessage(Readable.from(piece.chunks), { maxBytes });
    staged.catch(() => undefined);
    this.collected.push(staged);
    return staged;
  }

  /** True while a command has streamed literals (a first one was accepted). */
  get active(): boolean {
    return this.streamed.length > 0;
  }

  /** Discards what the command left staged; ends a literal cut off mid-way. */
  async release(): Promise<void> {
    this.incoming?.stream.destroy(new Error("literal cut off"));
    this.incoming = null;
    const pending = [...this.streamed, ...this.collected];
    this.streamed = [];
    this.collected = [];
    for (const staged of pending) {
      try {
        (await staged).discard();
      } catch {
        // Never staged: nothing to discard.
      }
    }
  }

  private finishIncoming(): void {
    this.incoming?.stream.end();
    this.incoming = null;
  }
}
