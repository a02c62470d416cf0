// The message body half of the SMTP session: DATA (RFC 5321 §4.1.1.4) and BDAT (RFC 3030 §2).
// It decides whether a body may start, switches the session's input from command lines to body
// bytes and back, and keeps a BDAT body across its chunks. What happens to a complete body
// (policy, store, the final reply) stays with the session, through BodyIntakeHost.complete.
//
// Whatever the verdict, the bytes the client sends as body are read as body to their end (the
// terminator for DATA, the announced count for BDAT): a refused body must never be read as
// commands, or a message could smuggle SMTP commands past the refusal.
import type { LineReader } from "../../net/line-reader.js";
import { ReplyCodes, reply, type BdatCommand, type SmtpReply } from "../protocol/index.js";
import { BodySink } from "./body-sink.js";
import { BdatChunkReceiver, DataReceiver } from "./message-receivers.js";
import type { Transaction } from "./transaction.js";
import type { SessionLimits, SessionOptions } from "./types.js";

/** What the intake needs from its session. */
export interface BodyIntakeHost {
  readonly reader: LineReader;
  readonly store: SessionOptions["store"];
  readonly limits: SessionLimits;
  /** The EHLO/HELO state: null before either, else whether it was EHLO. */
  hello(): { esmtp: boolean } | null;
  transaction(): Transaction | null;
  send(answer: SmtpReply): Promise<void>;
  /** Sends a refusal and counts it as a client error. */
  reject(answer: SmtpReply): Promise<void>;
  resetTransaction(): void;
  /** The whole body arrived and passed the byte checks: deliver it and answer. */
  complete(sink: BodySink): Promise<void>;
  /** Command bytes are left over after the body (they start the next command). */
  commandPending(pending: boolean): void;
}

export type BodyReading = "data" | "bdat" | null;

export class BodyIntake {
  readonly #host: BodyIntakeHost;
  #data: DataReceiver | null = null;
  #chunk: BdatChunkReceiver | null = null;
  /** The announced size of the current BDAT chunk, for its 250 reply. */
  #chunkSize = 0;
  /** The BDAT body of the current transaction, across its chunks. */
  #bdatSink: BodySink | null = null;

  constructor(host: BodyIntakeHost) {
    this.#host = host;
  }

  /** Which body is being read now; null while the session reads command lines. */
  get reading(): BodyReading {
    if (this.#data !== null) return "data";
    return this.#chunk !== null ? "bdat" : null;
  }

  /** The DATA command. */
  async data(): Promise<void> {
    const host = this.#host;
    const refusal = this.#refusal("data");
    if (refusal !== null) return host.reject(refusal);
    host.transaction()!.bodyMode = "data";
    const { limits, reader } = host;
    const sink = new BodySink(host.store, limits.maxMessageSize);
    this.#data = new DataReceiver(sink, limits.maxMessageSize, limits.smtpTextLineLength - 2);
    await host.send(reply(ReplyCodes.StartMailInput));
    // Bytes pipelined behind DATA (RFC 2920 allows it after 354 only, but clients do) are body.
    const buffered = reader.buffered;
    if (buffered === 0) return;
    reader.readBytes(buffered);
    const pending = [...reader.items()].flatMap((item) => (item.kind === "bytes" ? [item.chunk] : []));
    for (const chunk of pending) {
      if (this.#data !== null) await this.dataBytes(chunk);
      else reader.push(chunk);
    }
  }

  /** Bytes received while reading a DATA body. */
  async dataBytes(chunk: Buffer): Promise<void> {
    const receiver = this.#data;
    if (receiver === null) return;
    const step = await receiver.push(chunk);
    if (!step.done) return;
    const host = this.#host;
    this.#data = null;
    host.reader.push(step.rest);
    host.commandPending(step.rest.length > 0);
    if (step.refusal !== null) {
      host.resetTransaction();
      return host.reject(step.refusal);
    }
    await host.complete(receiver.sink);
  }

  /** The BDAT command: its chunk is read (counted) whether or not it is accepted. */
  async bdat(command: BdatCommand): Promise<void> {
    const host = this.#host;
    const refusal = host.hello()?.esmtp ? this.#refusal("bdat") : reply(ReplyCodes.HelloFirst);
    if (refusal === null) {
      host.transaction()!.bodyMode = "bdat";
      this.#bdatSink ??= new BodySink(host.store, host.limits.maxMessageSize);
    }
    const receiver = new BdatChunkReceiver(refusal === null ? this.#bdatSink : null, command.size, command.last, host.limits.maxMessageSize, refusal);
    // RFC 3030 §2: the chunk's bytes are read whatever the verdict, or they would run as commands.
    if (command.size === 0) return this.#chunkDone(receiver, 0);
    this.#chunk = receiver;
    this.#chunkSize = command.size;
    host.reader.readBytes(command.size);
  }

  /** Counted bytes of the current BDAT chunk, from the line reader. */
  async bdatBytes(chunk: Buffer, remaining: number): Promise<void> {
    const receiver = this.#chunk;
    if (receiver !== null && (await receiver.push(chunk, remaining))) await this.#chunkDone(receiver, this.#chunkSize);
  }

  /** The transaction ends (RSET, EHLO, STARTTLS, delivered): a partial BDAT body is dropped. */
  resetBdat(): void {
    this.#bdatSink?.abort();
    this.#bdatSink = null;
  }

  /** The session is closing: every body in flight is dropped. */
  abort(): void {
    this.#data?.sink.abort();
    this.#data = null;
    this.#chunk = null;
    this.resetBdat();
  }

  async #chunkDone(receiver: BdatChunkReceiver, size: number): Promise<void> {
    const host = this.#host;
    this.#chunk = null;
    const refusal = receiver.refusal;
    if (refusal !== null) {
      // A refused chunk ends the transaction (RFC 3030 §2: the client must not send more).
      if (receiver.sink !== null) host.resetTransaction();
      return host.reject(refusal);
    }
    if (!receiver.last) return host.send({ code: 250, enhanced: "2.0.0", lines: [`${size} octets received`] });
    const sink = this.#bdatSink!;
    this.#bdatSink = null;
    await host.complete(sink);
  }

  /** The refusal of DATA/BDAT before any body byte, or null when the body may come. */
  #refusal(mode: "data" | "bdat"): SmtpReply | null {
    const transaction = this.#host.transaction();
    if (this.#host.hello() === null) return reply(ReplyCodes.HelloFirst);
    if (transaction === null) return reply(ReplyCodes.NeedMail);
    // RFC 5321 §3.3: DATA with no accepted recipient gets 554 (503 is also allowed).
    if (transaction.recipients.length === 0) return reply(ReplyCodes.NoValidRecipients);
    const other = mode === "data" ? "bdat" : "data";
    if (transaction.bodyMode === other) return reply(ReplyCodes.DataBdatMixed);
    if (mode === "data" && transaction.parameters.body === "BINARYMIME") return reply(ReplyCodes.BinaryNeedsBdat);
    return null;
  }
}
