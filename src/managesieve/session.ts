// The ManageSieve server session (RFC 5804): greeting, the unauthenticated and authenticated
// states, the command loop and its bounds. Sans-IO: receive() takes the client's bytes, responses
// leave through the injected transport; framing is protocol/reader.ts, the commands are commands/.
//
// Decisions of this module:
// - Commands are answered in order; responses gathered while a batch of pipelined commands runs
//   are written together.
// - Clocks: no input while a command is awaited (managesieve.unauthenticated_idle before login,
//   managesieve.idle after), one command from its first byte to its end, literals included
//   (managesieve.command_deadline, not reset by more bytes), one write the client does not read
//   (managesieve.idle).
// - Counts: failed AUTHENTICATEs (managesieve.max_auth_failures) and refused commands
//   (managesieve.max_errors) end the connection with BYE; the shared auth throttle
//   (auth/auth-throttle.ts) slows password guessing across connections as for IMAP and POP3.
// - After STARTTLS, what the client pipelined in plaintext is dropped (CVE-2011-0411) and the
//   capabilities are sent again (RFC 5804 §2.2).
import type { Account } from "../store/index.js";
import { advertisedMechanisms, type SaslExchange } from "../auth/index.js";
import type { TimerHandle } from "../net/index.js";
import { SIEVE_EXTENSIONS } from "../sieve/capabilities.js";
import { isStoreError } from "../store/index.js";
import { COMMANDS, continueSasl, ManageSieveError, type ManageSieveContext, type SessionState } from "./commands/index.js";
import { CommandReader, type ReadItem } from "./protocol/reader.js";
import { bye, encodeCapabilities, encodeResponse, no, ok, type Response } from "./protocol/response.js";
import type { ManageSieveSessionOptions } from "./types.js";

export class ManageSieveSession implements ManageSieveContext {
  readonly options: ManageSieveSessionOptions;
  state: SessionState = "unauthenticated";
  tls: boolean;
  account: Account | null = null;
  readonly #reader: CommandReader;
  #sasl: SaslExchange | null = null;
  #closed = false;
  #busy = false;
  #stopping = false;
  #authFailures = 0;
  #errors = 0;
  readonly #output: Buffer[] = [];
  #idleTimer: TimerHandle | null = null;
  #commandTimer: TimerHandle | null = null;

  constructor(options: ManageSieveSessionOptions) {
    this.options = options;
    this.tls = options.implicitTls;
    const { lineLength, maxQuotedBytes, maxLiteralBytes } = options.limits;
    this.#reader = new CommandReader({ lineLength, maxQuotedBytes, maxLiteralBytes });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** RFC 5804 §1.7: the greeting is the capability list and an OK. */
  async start(): Promise<void> {
    await this.write(this.capabilities());
    await this.reply(ok(`${this.options.hostname} Mailroom ManageSieve ready`));
    await this.#flush();
    this.#awaitInput();
  }

  async receive(chunk: Buffer): Promise<void> {
    if (this.#closed) return;
    this.#cancelIdle();
    this.#busy = true;
    this.#reader.push(chunk);
    try {
      while (!this.#closed && !this.#stopping) {
        const item = this.#reader.next();
        if (item === null) break;
        this.#cancelCommandTimer();
        await this.#consume(item);
      }
      await this.#flush();
    } finally {
      this.#busy = false;
    }
    if (this.#closed) return;
    // A command that has begun: its clock runs from its first byte and more bytes do not reset it.
    if (this.#reader.partial) this.#commandTimer ??= this.options.timers.set(this.options.limits.commandDeadline, () => this.#expired("command"));
    else this.#cancelCommandTimer();
    this.#awaitInput();
  }

  stopTakingCommands(): void {
    this.#stopping = true;
  }

  /** RFC 5804 §1.3: TRYLATER tells the client the refusal is temporary. */
  sayGoodbye(): Promise<void> {
    return this.closeWith(bye("server shutting down", "TRYLATER"));
  }

  end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cleanup();
  }

  /** A final BYE (shutdown, timeout, account removed), then close. */
  async closeWith(response: Response): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cleanup();
    this.#output.length = 0;
    try {
      await this.options.transport.write(encodeResponse(response));
    } catch {
      // Gone already.
    }
    this.options.transport.close();
  }

  // --- ManageSieveContext ----------------------------------------------------------------------

  capabilities(): Buffer {
    const { limits, startTlsAvailable, allowPlaintextAuth } = this.options;
    const lines: [string, string | null][] = [
      ["IMPLEMENTATION", "Mailroom"],
      // RFC 5804 §1.7: the mechanisms usable now; none before TLS unless plaintext is allowed.
      ["SASL", this.state === "authenticated" ? "" : advertisedMechanisms({ tls: this.tls, allowPlaintextWithoutTls: allowPlaintextAuth, scram: this.options.authenticator.supportsScram === true }).join(" ")],
      // The engine's own list (sieve/capabilities.ts): exactly what require accepts.
      ["SIEVE", SIEVE_EXTENSIONS.join(" ")],
    ];
    if (startTlsAvailable && !this.tls && this.state === "unauthenticated") lines.push(["STARTTLS", null]);
    lines.push(["MAXREDIRECTS", String(limits.maxRedirects)]);
    if (this.account !== null) lines.push(["OWNER", this.account.address]);
    lines.push(["UNAUTHENTICATE", null], ["VERSION", "1.0"]);
    return encodeCapabilities(lines);
  }

  reply(response: Response): Promise<void> {
    return this.write(encodeResponse(response));
  }

  async write(bytes: Buffer): Promise<void> {
    if (this.#closed) return;
    this.#output.push(bytes);
  }

  async startTls(): Promise<void> {
    await this.#flush();
    const dropped = this.#reader.discardBuffered();
    if (dropped > 0) this.options.log.warn("managesieve.starttls_injection_dropped", { session: this.options.id, octets: dropped });
    this.#cancelCommandTimer();
    try {
      await this.options.transport.startTls(encodeResponse(ok("Begin TLS negotiation now")));
    } catch (error) {
      this.options.log.info("managesieve.tls_failed", { session: this.options.id, error });
      this.end();
      this.options.transport.close();
      return;
    }
    this.tls = true;
    // RFC 5804 §2.2: after the handshake the server re-issues the capabilities and an OK.
    await this.write(this.capabilities());
    await this.reply(ok("TLS negotiation successful"));
  }

  awaitSaslResponse(exchange: SaslExchange): void {
    this.#sasl = exchange;
  }

  async authenticationFailed(response: Response): Promise<void> {
    this.#authFailures += 1;
    this.options.log.info("managesieve.auth_failed", { session: this.options.id, remote: this.options.remoteAddress, failures: this.#authFailures });
    await this.reply(response);
    if (this.#authFailures >= this.options.limits.maxAuthFailures) {
      await this.#flush();
      await this.closeWith(bye("too many failed authentication attempts"));
    }
  }

  login(account: Account): void {
    this.account = account;
    this.state = "authenticated";
  }

  logout(): void {
    this.account = null;
    this.state = "unauthenticated";
  }

  async closeAfter(response: Response): Promise<void> {
    await this.reply(response);
    await this.#flush();
    this.end();
    this.options.transport.close();
  }

  // --- input ---------------------------------------------------------------------------------

  async #consume(item: ReadItem): Promise<void> {
    const exchange = this.#sasl;
    if (exchange !== null) {
      this.#sasl = null;
      // RFC 5804 §2.1: each client response is one string on its own line.
      const token = item.kind === "line" && item.tokens.length === 1 ? item.tokens[0]! : null;
      if (token === null || token.kind !== "string") return this.authenticationFailed(no("malformed authentication response"));
      return this.#run(() => continueSasl(this, exchange, token.bytes.toString("latin1")));
    }
    if (item.kind === "error") return this.#refuse(no(item.message, item.code));
    if (item.tokens.length === 0) return; // an empty line: nothing asked, nothing answered
    const [first, ...args] = item.tokens;
    if (first!.kind !== "atom") return this.#refuse(no("expected a command name"));
    const name = first!.text.toUpperCase();
    const spec = COMMANDS[name];
    if (spec === undefined) return this.#refuse(no(`unknown command ${JSON.stringify(first!.text.slice(0, 40))}`));
    if (!spec.states.includes(this.state)) {
      return this.#refuse(no(this.state === "unauthenticated" ? `${name} needs AUTHENTICATE first` : `${name} is not valid after AUTHENTICATE`));
    }
    return this.#run(() => spec.run(this, args));
  }

  /** A refused command: answered NO, and counted toward managesieve.max_errors. */
  async #refuse(response: Response): Promise<void> {
    this.#errors += 1;
    await this.reply(response);
    if (this.#errors >= this.options.limits.maxErrors) {
      this.options.log.info("managesieve.too_many_errors", { session: this.options.id, remote: this.options.remoteAddress, errors: this.#errors });
      await this.#flush();
      await this.closeWith(bye("too many errors"));
    }
  }

  /** The one place errors become responses. */
  async #run(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      if (error instanceof ManageSieveError) return error.malformed ? this.#refuse(error.response) : this.reply(error.response);
      this.options.log.error("managesieve.command_failed", { session: this.options.id, error });
      const temporary = !isStoreError(error) || error.code === "UNAVAILABLE" || error.code === "NOSPACE";
      return this.reply(no("internal error", temporary ? "TRYLATER" : null));
    }
  }

  // --- output, deadlines, the end ------------------------------------------------------------

  async #flush(): Promise<void> {
    if (this.#closed || this.#output.length === 0) return;
    const bytes = Buffer.concat(this.#output);
    this.#output.length = 0;
    // A client that stops reading would hold the session forever.
    const stalled = this.options.timers.set(this.options.limits.idle, () => this.#expired("write"));
    try {
      await this.options.transport.write(bytes);
    } catch {
      this.end();
    } finally {
      stalled.cancel();
    }
  }

  #awaitInput(): void {
    this.#cancelIdle();
    const { limits } = this.options;
    this.#idleTimer = this.options.timers.set(this.state === "unauthenticated" ? limits.unauthenticatedIdle : limits.idle, () => this.#expired("idle"));
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
    this.options.log.info("managesieve.timeout", { session: this.options.id, deadline: kind });
    if (kind === "write") {
      this.end();
      this.options.transport.close();
      return;
    }
    void this.closeWith(bye(kind === "command" ? "command not finished in time" : "disconnected for inactivity"));
  }

  #cleanup(): void {
    this.#cancelIdle();
    this.#cancelCommandTimer();
    this.#sasl = null;
  }

  /** True while a command is being processed (for the server's shutdown). */
  get busy(): boolean {
    return this.#busy;
  }
}
