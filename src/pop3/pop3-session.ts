// The POP3 server session (RFC 1939): AUTHORIZATION → TRANSACTION → UPDATE, with the RFC 2449
// extensions (CAPA, response codes, PIPELINING), RFC 5034 AUTH and RFC 2595 STLS. Sans-IO:
// receive() takes the client's bytes, responses leave through the injected transport, and the
// command handlers (commands/) act on the Pop3Context this class implements.
//
// Decisions of this module:
// - Pipelined commands (RFC 2449 §6.6) are answered in order; responses are gathered and written
//   in batches of up to OUTPUT_BATCH octets, so a client pipelining RETR/DELE gets few large writes.
// - Three clocks: no input while a command is awaited (limits.pop3_unauthenticated_idle before
//   login, limits.pop3_idle after it, the RFC 1939 §3 autologout), one command line from its first
//   byte to its line end (limits.pop3_command_deadline, not reset by more bytes, so a client
//   trickling a byte every few seconds is cut off), and one write the client does not read
//   (limits.pop3_idle).
// - Every -ERR a client caused is logged at info with the session id, rate-limited per session
//   (client-error-log.ts).
// - A connection that ends without QUIT commits nothing (RFC 1939 §6): marks are dropped.
// - \Seen set by RETR (markSeen) is written in the background, one write at a time, so the next
//   batch of pipelined commands does not wait for its commit; QUIT waits for it.
import { isStoreError, type Account, type Uid } from "../store/index.js";
import { LineReader, type FramedInput } from "../net/line-reader.js";
import type { SaslExchange } from "../auth/index.js";
import { continueSasl, POP3_COMMANDS, type Pop3Context, type Pop3State } from "./commands/index.js";
import type { Pop3CommandSpec } from "./commands/context.js";
import { BrokenResponseError, Pop3Error } from "./errors.js";
import type { Maildrop } from "./maildrop.js";
import { encodeMultiline, encodeResponse, err, ok, parsePop3Command, type Pop3Command, type Pop3Response } from "./protocol/index.js";
import type { Pop3SessionOptions, TimerHandle } from "./types.js";
import { ClientErrorLog } from "./client-error-log.js";

/** Longest SASL response line: a 4096-octet response (auth/ DEFAULT_SASL_EXCHANGE_LIMITS) in base64, CRLF included. */
const SASL_LINE_OCTETS = Math.ceil(4096 / 3) * 4 + 2;
const OUTPUT_BATCH = 64 * 1024;
/** How long \\Seen marks gather before they are written (#flushSeenInBackground). */
const SEEN_WRITE_DELAY_MS = 25;
const LF = 0x0a;

export class Pop3Session implements Pop3Context {
  readonly options: Pop3SessionOptions;
  state: Pop3State = "authorization";
  tls: boolean;
  account: Account | null = null;
  pendingUser: string | null = null;
  readonly #reader: LineReader;
  #maildrop: Maildrop | null = null;
  #sasl: SaslExchange | null = null;
  #closed = false;
  #busy = false;
  /** The server is stopping: no command is started after the one in flight (net/session-driver.ts). */
  #stopping = false;
  readonly #output: Buffer[] = [];
  #outputBytes = 0;
  /** The \Seen write in flight, if any (#flushSeenInBackground). */
  #seenWrite: Promise<void> | null = null;
  #idleTimer: TimerHandle | null = null;
  #commandTimer: TimerHandle | null = null;
  /** The last byte received was not a line end: a command line (or a SASL response) is in progress. */
  #lineOpen = false;
  /** The keyword of the command being answered, for the client-error log; null outside a command. */
  #currentCommand: string | null = null;
  readonly #clientErrors: ClientErrorLog;

  constructor(options: Pop3SessionOptions) {
    this.options = options;
    this.tls = options.implicitTls;
    this.#reader = new LineReader({ maxLineLength: options.limits.pop3LineLength });
    this.#clientErrors = new ClientErrorLog({ log: options.log, session: options.id, now: () => options.clock().getTime() });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get plaintextAuthAllowed(): boolean {
    return this.tls || this.options.allowPlaintextAuth;
  }

  get maildrop(): Maildrop {
    if (this.#maildrop === null) throw new Error("no maildrop outside the TRANSACTION state");
    return this.#maildrop;
  }

  /** RFC 1939 §4: the greeting. No APOP timestamp: APOP is not offered (commands/auth.ts). */
  async start(): Promise<void> {
    await this.reply(ok(`${this.options.hostname} Mailroom POP3 server ready`));
    await this.#flush();
    this.#awaitInput();
  }

  /** Bytes from the client; resolves once every complete command in them is answered. */
  async receive(chunk: Buffer): Promise<void> {
    if (this.#closed) return;
    this.#cancelIdle();
    this.#busy = true;
    // Known before the framing: a line overflowing the limit is dropped by the reader as it comes,
    // yet it is still a line in progress that the command deadline must bound.
    this.#lineOpen = chunk.length > 0 && chunk[chunk.length - 1] !== LF;
    this.#reader.push(chunk);
    try {
      while (!this.#closed && !this.#stopping) {
        const item = this.#reader.next();
        if (item === null) break;
        await this.#consume(item);
      }
      this.#maildrop?.endBatch();
      await this.#flush();
      this.#flushSeenInBackground();
    } finally {
      this.#busy = false;
    }
    if (this.#closed) return;
    // A partial line waits: the command clock runs from its first byte and is not reset by more.
    if (this.#lineOpen) this.#commandTimer ??= this.options.timers.set(this.options.limits.pop3CommandDeadline, () => this.#expired("command"));
    else this.#cancelCommandTimer();
    this.#awaitInput();
  }

  /**
   * The server is stopping: the command being processed (QUIT's UPDATE, a RETR) still completes
   * and is answered, but no command received after it is started; then sayGoodbye().
   */
  stopTakingCommands(): void {
    this.#stopping = true;
  }

  /** The stopping server's goodbye: -ERR [SYS/TEMP] (RFC 3206 §4), nothing committed (RFC 1939 §6). */
  sayGoodbye(): Promise<void> {
    return this.closeWith(err("server shutting down", "SYS/TEMP"));
  }

  /** Resolves once the background \Seen write (if any) is done. */
  async settled(): Promise<void> {
    while (this.#seenWrite !== null) await this.#seenWrite;
  }

  /** The client went away (or TLS failed): nothing is committed, the maildrop is unlocked. */
  end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clientErrors.flush();
    // What was retrieved stays retrieved for IMAP users, even without QUIT.
    void this.#flushSeen();
    this.#cleanup();
  }

  /**
   * Sends a final -ERR (server shutdown, timeout) and closes. In the middle of a multi-line
   * response the text would corrupt it, so then the connection is only closed.
   */
  async closeWith(response: Pop3Response): Promise<void> {
    if (this.#closed) return;
    const midResponse = this.#busy;
    this.#closed = true;
    this.#cleanup();
    this.#output.length = 0;
    if (!midResponse) {
      try {
        await this.options.transport.write(encodeResponse(response));
      } catch {
        // Gone already.
      }
    }
    this.options.transport.close();
  }

  // --- Pop3Context -------------------------------------------------------------------------

  reply(response: Pop3Response): Promise<void> {
    this.#clientErrors.note(response, this.#currentCommand, this.state);
    return this.write(encodeResponse(response));
  }

  replyLines(first: Pop3Response, lines: readonly string[]): Promise<void> {
    return this.write(encodeMultiline(first, lines));
  }

  async write(bytes: Buffer): Promise<void> {
    if (this.#closed) return;
    this.#output.push(bytes);
    this.#outputBytes += bytes.length;
    if (this.#outputBytes >= OUTPUT_BATCH) await this.#flush();
  }

  awaitSaslResponse(exchange: SaslExchange): void {
    this.#sasl = exchange;
    this.#reader.setMaxLineLength(Math.max(SASL_LINE_OCTETS, this.options.limits.pop3LineLength));
  }

  enterTransaction(account: Account, maildrop: Maildrop): void {
    this.account = account;
    this.#maildrop = maildrop;
    this.state = "transaction";
    this.pendingUser = null;
  }

  async startTls(): Promise<void> {
    await this.#flush();
    // RFC 2595 §4 / CVE-2011-0411: what was pipelined after STLS arrived in plaintext; dropped.
    const dropped = this.#reader.discardBuffered();
    if (dropped > 0) this.options.log.warn("pop3.stls_injection_dropped", { session: this.options.id, octets: dropped });
    this.#lineOpen = false;
    this.#cancelCommandTimer();
    try {
      await this.options.transport.startTls(encodeResponse(ok("begin TLS negotiation")));
    } catch (error) {
      this.options.log.info("pop3.tls_failed", { session: this.options.id, error });
      this.end();
      return;
    }
    this.tls = true;
    this.pendingUser = null;
  }

  /** QUIT: in TRANSACTION, the UPDATE state (RFC 1939 §6) commits, then the session ends. */
  async quit(): Promise<void> {
    if (this.state === "authorization" || this.#maildrop === null || this.account === null) {
      await this.reply(ok(`${this.options.hostname} signing off`));
      return this.#finish();
    }
    const maildrop = this.#maildrop;
    const uids = maildrop.removalsAtUpdate(this.account.pop3, this.options.clock());
    await this.#seenWrite;
    await this.#flushSeen(new Set(uids));
    let response: Pop3Response;
    try {
      // One store call: the removals commit together, and IMAP sessions see EXPUNGE through the change feed.
      const removed = await maildrop.remove(uids);
      response = ok(`${this.options.hostname} signing off (${removed} message${removed === 1 ? "" : "s"} deleted)`);
      this.options.log.info("pop3.update", { session: this.options.id, account: this.account.address, deleted: removed });
    } catch (error) {
      this.options.log.error("pop3.update_failed", { session: this.options.id, error });
      // RFC 1939 §6: the server answers -ERR when deletions could not all be made.
      response = err("some deleted messages not removed", "SYS/TEMP");
    }
    // The lock goes before the goodbye, so a client reconnecting at once does not meet [IN-USE].
    this.#releaseMaildrop();
    await this.reply(response);
    return this.#finish();
  }

  // --- input -------------------------------------------------------------------------------

  async #consume(item: FramedInput): Promise<void> {
    // A line ended (or overflowed): the next one's clock starts when receive() sees it open.
    this.#cancelCommandTimer();
    const exchange = this.#sasl;
    if (exchange !== null) {
      this.#sasl = null;
      this.#currentCommand = "AUTH";
      this.#reader.setMaxLineLength(this.options.limits.pop3LineLength);
      if (item.kind !== "line") return this.reply(err("malformed authentication response"));
      return this.#run(() => continueSasl(this, exchange, item.line.toString("latin1")));
    }
    this.#currentCommand = null;
    // RFC 2449 §4: longer command lines are refused.
    if (item.kind === "overflow") return this.reply(err("line too long"));
    if (item.kind !== "line") return;
    // Bare LF is accepted as a line end: POP3 commands carry no message data, so it cannot smuggle.
    const parsed = parsePop3Command(item.line, { maxLineOctets: this.options.limits.pop3LineLength - 2 });
    if (parsed.kind === "syntax-error") return this.reply(err(parsed.message));
    this.#currentCommand = parsed.kind;
    return this.#dispatch(parsed);
  }

  async #dispatch(command: Pop3Command): Promise<void> {
    const spec = POP3_COMMANDS[command.kind] as Pop3CommandSpec<typeof command.kind>;
    if (!spec.states.includes(this.state)) return this.reply(err(`${command.kind} is not valid in the ${this.state.toUpperCase()} state`));
    return this.#run(() => (spec.run as (context: Pop3Context, command: Pop3Command) => Promise<void>)(this, command));
  }

  /** The one place errors become responses (ARCHITECTURE §5.5). */
  async #run(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      if (error instanceof Pop3Error) return this.reply(error.response);
      if (error instanceof BrokenResponseError) {
        this.options.log.warn("pop3.response_broken", { session: this.options.id, error: error.cause ?? error });
        this.#closed = true;
        this.#cleanup();
        this.options.transport.close();
        return;
      }
      if (isStoreError(error, "DAMAGED")) {
        // RFC 3206 SYS/PERM: retrying will not help; the store lost the message's bytes.
        this.options.log.error("pop3.message_damaged", { session: this.options.id, error });
        return this.reply(err("message data is missing on the server, tell the administrator", "SYS/PERM"));
      }
      const temporary = isStoreError(error) ? error.code === "UNAVAILABLE" || error.code === "NOSPACE" : true;
      this.options.log.error("pop3.command_failed", { session: this.options.id, error });
      return this.reply(err("internal error, try again later", temporary ? "SYS/TEMP" : "SYS/PERM"));
    }
  }

  // --- output, deadlines, the end ----------------------------------------------------------

  async #flush(): Promise<void> {
    if (this.#closed || this.#output.length === 0) return;
    const bytes = this.#output.length === 1 ? this.#output[0]! : Buffer.concat(this.#output);
    this.#output.length = 0;
    this.#outputBytes = 0;
    // A client that stops reading would hold the session (and the maildrop lock) forever.
    const stalled = this.options.timers.set(this.options.limits.pop3Idle, () => this.#expired("write"));
    try {
      await this.options.transport.write(bytes);
    } catch {
      this.end();
    } finally {
      stalled.cancel();
    }
  }

  /**
   * \Seen marks gathered by a batch of commands are written while the next batch runs: a write is
   * a commit (an fsync), and a client keeping a window of RETRs in flight would otherwise wait for
   * one per batch. One write at a time; marks gathered meanwhile go with the next. QUIT waits for
   * it before the UPDATE state.
   */
  #flushSeenInBackground(): void {
    if (this.#seenWrite !== null || this.#maildrop?.hasPendingSeen !== true) return;
    const write = async (): Promise<void> => {
      // Starts after the assignment below: the first await comes before any check can end the loop.
      // A client sending one RETR at a time ends a batch per message; waiting a moment gathers
      // the marks of several into one commit, instead of an fsync (which blocks the event loop,
      // store/sqlite/commit-queue.ts) per RETR. QUIT and a disconnect write what is pending.
      await new Promise((resolve) => setTimeout(resolve, SEEN_WRITE_DELAY_MS));
      try {
        while (this.#maildrop?.hasPendingSeen) await this.#flushSeen();
      } finally {
        this.#seenWrite = null;
      }
    };
    this.#seenWrite = write();
  }

  async #flushSeen(skip?: ReadonlySet<Uid>): Promise<void> {
    try {
      await this.#maildrop?.flushSeen(skip);
    } catch (error) {
      // The messages were sent; a flag that could not be set (expunged meanwhile, store closing) is logged only.
      this.options.log.warn("pop3.mark_seen_failed", { session: this.options.id, error });
    }
  }

  async #finish(): Promise<void> {
    await this.#flush();
    this.end();
    this.options.transport.close();
  }

  #awaitInput(): void {
    this.#cancelIdle();
    const { limits } = this.options;
    this.#idleTimer = this.options.timers.set(this.state === "authorization" ? limits.pop3UnauthenticatedIdle : limits.pop3Idle, () => this.#expired("idle"));
  }

  #cancelIdle(): void {
    this.#idleTimer?.cancel();
    this.#idleTimer = null;
  }

  #cancelCommandTimer(): void {
    this.#commandTimer?.cancel();
    this.#commandTimer = null;
  }

  #expired(kind: "idle" | "command" | "write"): void {
    this.options.log.info("pop3.timeout", { session: this.options.id, deadline: kind });
    // RFC 1939 §3: an autologout does not enter UPDATE; nothing is committed.
    if (kind === "write") this.#busy = true;
    void this.closeWith(err(kind === "command" ? "autologout: command line not finished in time" : "autologout: idle for too long", "SYS/TEMP"));
  }

  #releaseMaildrop(): void {
    if (this.account !== null) this.options.shared.locks.release(this.account.id, this.options.id);
  }

  #cleanup(): void {
    this.#cancelIdle();
    this.#cancelCommandTimer();
    this.#releaseMaildrop();
    this.#sasl = null;
  }
}
