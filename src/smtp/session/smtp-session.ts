// The SMTP server session (RFC 5321 §3, §4.1): greeting → EHLO/HELO → STARTTLS? → AUTH? → MAIL →
// RCPT+ → DATA/BDAT, with RSET, NOOP, QUIT, HELP, VRFY and EXPN at any point. Sans-IO: receive()
// takes the bytes the client sent, replies leave through the injected transport, and everything
// that decides about mail (who may send, who exists, where it goes) is the injected policy's.
//
// Input is framed by net/line-reader, with three other modes: DATA bytes go straight to the
// dot-unstuffer (so only <CRLF>.<CRLF> can end them) and BDAT chunks are counted bytes, both run
// by body-intake.ts; AUTH continuation lines go to the SASL exchange instead of the command parser.
//
// Decisions of this module:
// - AUTH is never offered on an "mx" listener, with or without TLS: user submission belongs on
//   587/465 (RFC 6409, RFC 8314 §3), and keeping passwords off port 25 keeps guessers off it too.
// - Every refusal caused by the client counts as an error; at max_smtp_errors the session ends
//   with 421 4.7.0 (RFC 5321 §4.3.2 permits closing on a misbehaving client).
// - Replies are written as each command is processed; with PIPELINING (RFC 2920) the client reads
//   them as a batch, and back-pressure comes from awaiting each write.
import { randomBytes } from "node:crypto";
import { LineReader, type FramedInput } from "../../net/line-reader.js";
import { isStoreError, type Account } from "../../store/index.js";
import { AUTH_MAX_LINE_OCTETS, ReplyCodes, encodeReply, ehloReply, greetingReply, heloReply, parseCommand, reply, replyForSyntaxError } from "../protocol/index.js";
import type { AuthCommand, HelloCommand, MailCommand, RcptCommand, SmtpCommand, SmtpReply } from "../protocol/index.js";
import type { SaslExchange } from "../../auth/index.js";
import { beginAuth, continueAuth, type AuthStep } from "./auth.js";
import { BodyIntake } from "./body-intake.js";
import type { BodySink } from "./body-sink.js";
import { Deadlines, type DeadlineKind } from "./deadlines.js";
import { ehloExtensions, unofferedMailParameter, unofferedRcptParameter, type OfferContext } from "./ehlo.js";
import { RefusalLogBudget } from "./refusal-log.js";
import { Transaction } from "./transaction.js";
import type { SessionOptions, SessionView } from "./types.js";

/** How a command-side line is read; body bytes are BodyIntake's (see #intake.reading). */
type InputMode = { kind: "command" } | { kind: "auth"; exchange: SaslExchange };

const GREETING_TEXT = "Mailroom ready";

export class SmtpSession {
  readonly id: string;
  readonly #o: SessionOptions;
  readonly #reader: LineReader;
  readonly #deadlines: Deadlines;
  #mode: InputMode = { kind: "command" };
  #helo: { name: string; esmtp: boolean } | null = null;
  #tls: boolean;
  #account: Account | null = null;
  #transaction: Transaction | null = null;
  readonly #intake: BodyIntake;
  #errors = 0;
  #closed = false;
  /** The server is stopping: no command is started after the one in flight (net/session-driver.ts). */
  #stopping = false;
  /** Command bytes arrived since the last complete command line (drives the command deadline). */
  #partialCommand = false;
  /** What the client was doing when a refusal came: a verb, "AUTH" during an exchange, or "command". */
  #stage = "connect";
  readonly #refusalLog: RefusalLogBudget;

  constructor(options: SessionOptions) {
    this.#o = options;
    this.id = options.id ?? randomBytes(9).toString("base64url");
    this.#tls = options.implicitTls;
    this.#reader = new LineReader({ maxLineLength: this.#commandLineLimit() });
    this.#refusalLog = new RefusalLogBudget(options.clock().getTime());
    const l = options.limits;
    this.#intake = new BodyIntake({
      reader: this.#reader,
      store: options.store,
      limits: options.limits,
      hello: () => this.#helo,
      transaction: () => this.#transaction,
      send: (answer) => this.#send(answer),
      reject: (answer) => this.#reject(answer),
      resetTransaction: () => this.#resetTransaction(),
      complete: (sink) => this.#completeMessage(sink),
      commandPending: (pending) => {
        this.#partialCommand = pending;
      },
    });
    this.#deadlines = new Deadlines(options.timers, { idle: l.smtpIdle, command: l.smtpCommandDeadline, transaction: l.smtpTransactionDeadline }, (kind) => this.#expired(kind));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** RFC 5321 §4.2: the 220 greeting opens the session. */
  async start(): Promise<void> {
    if (await this.#talkedEarly()) return;
    await this.#send(greetingReply(this.#o.hostname, GREETING_TEXT));
    if (!this.#closed) this.#deadlines.awaitInput();
  }

  /**
   * Early-talker detection (Postfix postscreen's pre-greet test): RFC 5321 §4.3.1 has the client
   * wait for the 220; spam software often does not. Bytes arriving during the pause get 554 5.5.1
   * and the connection ends; a real MTA never notices the pause beyond its length.
   */
  async #talkedEarly(): Promise<boolean> {
    const pause = this.#o.greetPause ?? 0;
    const received = this.#o.transport.bytesReceived;
    if (pause <= 0 || received === undefined) return false;
    const before = received();
    await new Promise<void>((resolve) => this.#o.timers.set(pause, resolve));
    if (this.#closed) return true;
    if (received() === before) return false;
    this.#o.log.info("smtp.early_talker", { session: this.id, client: this.#o.remoteAddress, pauseMs: pause });
    await this.closeWith({ code: 554, enhanced: "5.5.1", lines: ["Protocol error: talked before the greeting"] });
    return true;
  }

  /** Bytes from the client. Resolves once they are processed (the caller reads more after). */
  async receive(chunk: Buffer): Promise<void> {
    if (this.#closed) return;
    this.#deadlines.pauseIdle();
    try {
      const reading = this.#intake.reading;
      if (reading === "data") await this.#intake.dataBytes(chunk);
      else {
        if (reading === null) this.#partialCommand = true;
        this.#reader.push(chunk);
      }
      await this.#drain();
    } catch (error) {
      this.#o.log.error("smtp.session_error", { session: this.id, error });
      await this.closeWith(reply(ReplyCodes.LocalError));
      return;
    }
    if (this.#closed) return;
    if (this.#partialCommand && this.#intake.reading === null) this.#deadlines.commandStarted();
    else this.#deadlines.commandFinished();
    this.#deadlines.awaitInput();
  }

  /** The client closed its side: whatever was in flight is dropped. */
  end(): void {
    this.#closed = true;
    this.#cleanup();
  }

  /**
   * The server is stopping: the command being processed (a message committing) still gets its
   * real reply, but no command received after it is started; the driver then calls sayGoodbye().
   */
  stopTakingCommands(): void {
    this.#stopping = true;
  }

  /** RFC 5321 §3.8: 421 4.3.2 when the server shuts down, then close. */
  sayGoodbye(): Promise<void> {
    return this.closeWith(reply(ReplyCodes.ServiceClosing));
  }

  /** Sends a final reply (421 on shutdown or refusal) and closes. */
  async closeWith(finalReply: SmtpReply): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cleanup();
    try {
      await this.#o.transport.write(encodeReply(finalReply));
    } catch {
      // The peer is already gone; closing is all that is left.
    }
    this.#o.transport.close();
  }

  get view(): SessionView {
    return {
      id: this.id,
      role: this.#o.role,
      hostname: this.#o.hostname,
      remoteAddress: this.#o.remoteAddress,
      heloName: this.#helo?.name ?? null,
      esmtp: this.#helo?.esmtp ?? false,
      tls: this.#tls,
      tlsDetails: this.#tls ? this.#o.transport.tlsDetails() : null,
      account: this.#account,
    };
  }

  // --- input -------------------------------------------------------------------------------

  async #drain(): Promise<void> {
    while (!this.#closed && this.#intake.reading !== "data") {
      // Stopping: the octets of a BDAT chunk already here are still read (they belong to the
      // command in flight), but no further command line is started.
      if (this.#stopping && this.#intake.reading === null) return;
      const item = this.#reader.next();
      if (item === null) return;
      await this.#consume(item);
    }
  }

  async #consume(item: FramedInput): Promise<void> {
    const mode = this.#mode;
    if (item.kind === "bytes") return this.#intake.bdatBytes(item.chunk, item.remaining);
    this.#partialCommand = this.#reader.buffered > 0;
    this.#stage = mode.kind === "auth" ? "AUTH" : "command";
    if (item.kind === "overflow") {
      if (mode.kind === "auth") this.#endAuth();
      return this.#reject(reply(ReplyCodes.LineTooLong));
    }
    // RFC 5321 §2.3.8: only CRLF ends a line; a bare LF is not taken as one.
    if (item.ending !== "crlf") {
      if (mode.kind === "auth") this.#endAuth();
      return this.#reject(reply(ReplyCodes.BareLfInCommand));
    }
    if (mode.kind === "auth") return this.#authStep(await continueAuth(item.line.toString("latin1"), mode.exchange, this.#authLink(), this.#o.authenticator));
    const parsed = parseCommand(item.line, { smtputf8: this.#transaction?.smtputf8 ?? false, maxLineOctets: this.#o.limits.smtpLineLength - 2 });
    if (parsed.kind === "syntax-error") {
      // A BDAT whose size could not be read leaves its bytes to be read as commands; RFC 3030 has
      // no way around that, and they will fail as commands and count as errors.
      this.#stage = parsed.verb ?? "command";
      return this.#reject(replyForSyntaxError(parsed));
    }
    this.#stage = parsed.kind;
    await this.#command(parsed);
  }

  async #command(command: SmtpCommand): Promise<void> {
    switch (command.kind) {
      case "EHLO":
      case "HELO":
        return this.#hello(command);
      case "MAIL":
        return this.#mail(command);
      case "RCPT":
        return this.#rcpt(command);
      case "DATA":
        return this.#intake.data();
      case "BDAT":
        return this.#intake.bdat(command);
      case "RSET":
        // RFC 5321 §4.1.1.5: clears the transaction, keeps EHLO and authentication.
        this.#resetTransaction();
        return this.#send(reply(ReplyCodes.Ok));
      case "NOOP":
        return this.#send(reply(ReplyCodes.Ok));
      case "QUIT":
        return this.closeWith(reply(ReplyCodes.Bye));
      case "VRFY":
        // RFC 5321 §3.5.3: 252 rather than confirming which addresses exist.
        return this.#send(reply(ReplyCodes.CannotVerify));
      case "EXPN":
        return this.#reject(reply(ReplyCodes.ExpnRefused));
      case "HELP":
        return this.#send(reply(ReplyCodes.HelpMessage));
      case "STARTTLS":
        return this.#startTls();
      case "AUTH":
        return this.#auth(command);
    }
  }

  // --- EHLO, STARTTLS, AUTH ----------------------------------------------------------------

  #offer(): OfferContext {
    return {
      esmtp: this.#helo?.esmtp ?? false,
      tls: this.#tls,
      startTlsAvailable: this.#o.startTlsAvailable,
      authListener: this.#o.role !== "mx",
      scram: this.#o.authenticator.supportsScram === true,
      authenticated: this.#account !== null,
      allowPlaintextAuth: this.#o.allowPlaintextAuth,
      maxMessageSize: this.#o.limits.maxMessageSize,
    };
  }

  async #hello(command: HelloCommand): Promise<void> {
    // RFC 5321 §4.1.4: EHLO/HELO again resets the transaction as RSET would.
    this.#resetTransaction();
    this.#helo = { name: command.identity, esmtp: command.kind === "EHLO" };
    const greeting = `Hello ${command.identity}`;
    if (command.kind === "HELO") return this.#send(heloReply(this.#o.hostname, greeting));
    return this.#send(ehloReply(this.#o.hostname, greeting, ehloExtensions(this.#offer())));
  }

  async #startTls(): Promise<void> {
    if (!this.#o.startTlsAvailable) return this.#reject(reply(ReplyCodes.TlsNotOffered));
    if (this.#tls) return this.#reject(reply(ReplyCodes.AlreadyTls));
    if (this.#helo === null || !this.#helo.esmtp) return this.#reject(reply(ReplyCodes.HelloFirst));
    // RFC 3207 §4.2 / CVE-2011-0411: anything pipelined after STARTTLS came in plaintext and is
    // dropped, never executed after the handshake. The 220 goes out through the transport's
    // upgrade, which writes it only once reading plaintext has stopped: bytes that arrive after it
    // can only reach the TLS handshake, never this session's command reader.
    const dropped = this.#reader.discardBuffered();
    if (dropped > 0) this.#o.log.warn("smtp.starttls_injection_dropped", { session: this.id, octets: dropped });
    this.#partialCommand = false;
    try {
      await this.#o.transport.startTls(encodeReply(reply(ReplyCodes.ReadyToStartTls)));
    } catch (error) {
      this.#o.log.info("smtp.tls_failed", { session: this.id, error });
      this.end();
      return;
    }
    // RFC 3207 §4.2: everything learnt before TLS is forgotten; the client starts with EHLO.
    this.#tls = true;
    this.#helo = null;
    this.#account = null;
    this.#resetTransaction();
  }

  #authLink() {
    return { tls: this.#tls, allowPlaintextAuth: this.#o.allowPlaintextAuth, remoteAddress: this.#o.remoteAddress, channelBindings: () => this.#o.transport.channelBindings?.() ?? null };
  }

  async #auth(command: AuthCommand): Promise<void> {
    if (this.#o.role === "mx") return this.#reject(reply(ReplyCodes.AuthNotOffered));
    if (this.#helo === null || !this.#helo.esmtp) return this.#reject(reply(ReplyCodes.HelloFirst));
    if (this.#account !== null) return this.#reject(reply(ReplyCodes.AlreadyAuthenticated));
    // RFC 4954 §4: AUTH is not permitted during a mail transaction.
    if (this.#transaction !== null) return this.#reject(reply(ReplyCodes.BadSequence));
    await this.#authStep(await beginAuth(command, this.#authLink(), this.#o.authenticator));
  }

  async #authStep(step: AuthStep): Promise<void> {
    if (step.kind === "continue") {
      this.#mode = { kind: "auth", exchange: step.exchange };
      // RFC 4954 §4: responses may be up to 12288 octets.
      this.#reader.setMaxLineLength(AUTH_MAX_LINE_OCTETS + 2);
      return this.#send(step.reply);
    }
    this.#endAuth();
    if (step.account !== null) {
      this.#account = step.account;
      this.#o.log.info("smtp.authenticated", { session: this.id, account: step.account.address });
    }
    if (step.reply.code >= 400) return this.#reject(step.reply);
    return this.#send(step.reply);
  }

  #endAuth(): void {
    this.#mode = { kind: "command" };
    this.#reader.setMaxLineLength(this.#commandLineLimit());
  }

  // --- the transaction ---------------------------------------------------------------------

  async #mail(command: MailCommand): Promise<void> {
    if (this.#helo === null) return this.#reject(reply(ReplyCodes.HelloFirst));
    if (this.#transaction !== null) return this.#reject(reply(ReplyCodes.NestedMail));
    if (this.#o.role !== "mx" && this.#account === null) {
      // RFC 3207 §4 and RFC 4954 §6: submission needs TLS, then authentication.
      const needsTls = !this.#tls && !this.#o.allowPlaintextAuth;
      return this.#reject(reply(needsTls ? ReplyCodes.StartTlsRequired : ReplyCodes.AuthRequired));
    }
    const unoffered = unofferedMailParameter(command.parameters, this.#offer());
    // RFC 8689 §4.1: REQUIRETLS over a session without TLS cannot be honoured; say what is missing.
    if (unoffered === "REQUIRETLS") return this.#reject(reply(ReplyCodes.RequireTlsWithoutTls));
    if (unoffered !== null) return this.#reject(reply(ReplyCodes.ParameterNotOffered));
    const declared = command.parameters.size;
    if (declared !== null && declared > this.#o.limits.maxMessageSize) return this.#reject(reply(ReplyCodes.DeclaredTooBig));
    const refusal = await this.#o.policy.checkSender(this.view, command);
    if (refusal !== null) return this.#reject(refusal);
    this.#transaction = new Transaction(`${this.id}.${randomBytes(3).toString("hex")}`, command.reversePath, command.parameters, this.#o.clock());
    this.#deadlines.transactionStarted();
    return this.#send(reply(ReplyCodes.SenderOk));
  }

  async #rcpt(command: RcptCommand): Promise<void> {
    const transaction = this.#transaction;
    if (transaction === null) return this.#reject(reply(ReplyCodes.NeedMail));
    if (unofferedRcptParameter(command.parameters, this.#offer()) !== null) return this.#reject(reply(ReplyCodes.ParameterNotOffered));
    // RFC 5321 §4.5.3.1.10: recipients past the limit get 452; the client sends them later.
    if (transaction.recipients.length >= this.#o.limits.maxRecipients) {
      this.#logRefusal(reply(ReplyCodes.TooManyRecipients));
      return this.#send(reply(ReplyCodes.TooManyRecipients));
    }
    transaction.rcptCount++;
    const decision = await this.#o.policy.checkRecipient(this.view, { reversePath: transaction.reversePath, count: transaction.recipients.length, declaredSize: transaction.parameters.size }, command);
    if (this.#transaction !== transaction) return;
    if (decision.kind === "refuse") return this.#reject(decision.reply);
    transaction.recipients.push(decision.recipient);
    return this.#send(decision.reply ?? reply(ReplyCodes.RecipientOk));
  }

  /** The body is complete and acceptable so far: stage, let the policy deliver, then answer. */
  async #completeMessage(sink: BodySink): Promise<void> {
    const transaction = this.#transaction!;
    let answer: SmtpReply;
    try {
      const staged = await sink.finish();
      answer = await this.#o.policy.deliver(this.view, transaction, staged);
    } catch (error) {
      this.#o.log.error("smtp.delivery_failed", { session: this.id, transaction: transaction.id, error });
      // RFC 3463 X.3.1 "mail system full": the disk, not the recipient's mailbox; retry later.
      answer = reply(isStoreError(error, "NOSPACE") ? ReplyCodes.InsufficientStorage : ReplyCodes.LocalError);
    }
    if (this.#transaction === transaction) {
      this.#transaction = null;
      this.#deadlines.transactionFinished();
    }
    if (answer.code >= 400) return this.#reject(answer);
    return this.#send(answer);
  }

  #resetTransaction(): void {
    this.#intake.resetBdat();
    this.#transaction = null;
    this.#deadlines.transactionFinished();
  }

  // --- replies, errors and the end ---------------------------------------------------------

  async #send(answer: SmtpReply): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#o.transport.write(encodeReply(answer));
    } catch {
      this.end();
    }
  }

  async #reject(answer: SmtpReply): Promise<void> {
    this.#logRefusal(answer);
    await this.#send(answer);
    this.#errors++;
    if (this.#errors >= this.#o.limits.maxSmtpErrors) await this.closeWith(reply(ReplyCodes.TooManyErrors));
  }

  /**
   * One info line per refused command (syntax errors included), so a client's fault can be found
   * from our log alone; rate-limited per session (refusal-log.ts). The reply text is ours, so it
   * holds no client secret (an AUTH line is never echoed).
   */
  #logRefusal(answer: SmtpReply): void {
    const budget = this.#refusalLog.take(this.#o.clock().getTime());
    if (budget === null) return;
    this.#o.log.info("smtp.command_refused", {
      session: this.id,
      stage: this.#stage,
      clientIp: this.#o.remoteAddress,
      clientName: this.#helo?.name ?? null,
      code: answer.code,
      enhanced: answer.enhanced,
      text: answer.lines.join(" "),
      ...(budget.suppressed > 0 ? { suppressed: budget.suppressed } : {}),
    });
  }

  #expired(kind: DeadlineKind): void {
    this.#o.log.info("smtp.timeout", { session: this.id, deadline: kind });
    void this.closeWith(reply(ReplyCodes.Timeout));
  }

  #cleanup(): void {
    this.#deadlines.cancelAll();
    this.#intake.abort();
    this.#mode = { kind: "command" };
    this.#resetTransaction();
  }

  /** AUTH lines may be long (RFC 4954 §4); every other verb is held to smtpLineLength by the parser. */
  #commandLineLimit(): number {
    return Math.max(this.#o.limits.smtpLineLength, AUTH_MAX_LINE_OCTETS + 2);
  }
}
