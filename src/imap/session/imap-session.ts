// The IMAP server session (RFC 9051 §3, §5): greeting, the read loop, state checks, dispatch
// through the command table, and the one place that turns errors into tagged replies. Sans-IO:
// bytes come from and go to the injected transport, time from the injected timers, so tests
// drive a session with a fake transport; imap-server.ts attaches a real Connection.
//
// Decisions of this module:
// - Commands run one at a time, in order; pipelined commands simply wait (RFC 9051 §5.5 then
//   holds trivially). Untagged updates of the selected mailbox are sent just before each tagged
//   reply, and at once during IDLE; EXPUNGE is held back after non-UID FETCH/STORE/SEARCH
//   (RFC 9051 §7.4.1, ImapCommand.holdsExpunges).
// - Two clocks bound a client (config imap_idle / imap_unauthenticated_idle, the shorter one
//   before login): idle time between commands, and the time from the first byte of a command to
//   its last, so a client trickling bytes cannot hold the session (there is no separate key).
// - A write that fails, or a literal stream of the wrong length, ends the session: the client's
//   view of the protocol could no longer be trusted.
// - APPEND's message literals are streamed into the store as they arrive (literal-intake.ts);
//   the state and the target mailbox are checked before the first one is invited with `+`.
import { randomBytes } from "node:crypto";
import type { SaslCredentials } from "../../auth/index.js";
import { isStoreError, type Account, type AccountId, type Mailbox } from "../../store/index.js";
import type { CommandContext, ImapExtension, SessionControl, SessionState, TaggedCompletion } from "../commands/command.js";
import { ImapError } from "../commands/imap-error.js";
import { privateSeenView } from "../acl/private-seen-view.js";
import { readRightWithdrawn } from "../acl/shared-session.js";
import { ImapParseError } from "../protocol/parse-error.js";
import { buildCommandTable, type CommandTable } from "../commands/index.js";
import { ArgumentReader, type CommandText } from "../protocol/arguments.js";
import { CommandReader, type ReaderEvent } from "../protocol/command-reader.js";
import { continuationLine, statusLine, writeResponses } from "../protocol/response.js";
import type { ImapValue } from "../protocol/response-value.js";
import { capabilityList } from "./capabilities.js";
import { commandContext, type ContextSource } from "./command-context.js";
import { checkStreamedCommand, commandNameOf, readCommandHead } from "./command-head.js";
import { failureFor } from "./error-replies.js";
import { LiteralIntake } from "./literal-intake.js";
import { ProtocolErrorLog } from "./protocol-error-log.js";
import { SelectedMailbox } from "./selected-mailbox.js";
import { searchUpdatesOf, weaveSearchUpdates } from "../search/update-contexts.js";
import { SessionEnded, type ImapSessionOptions } from "./session-options.js";
import { idleUntilDone } from "./idle.js";
import { compressibleTransport, type CompressibleTransport } from "./deflate-transport.js";
import { NotifyState } from "./notify.js";
import { fetchCommand } from "../commands/fetch.js";
import type { NotifyRequest } from "../protocol/notify.js";
import { encodeMailboxName } from "../protocol/mailbox-name.js";
import { SessionDeadline, type DeadlineKind } from "./timers.js";

export type { ImapSessionLimits, ImapSessionOptions, ImapTransport, SaslAuthenticator } from "./session-options.js";

const SHUTDOWN_TEXT = "server shutting down";

export class ImapSession {
  readonly id: string;
  private readonly o: ImapSessionOptions;
  private readonly table: CommandTable;
  private readonly reader: CommandReader;
  private state: SessionState | "logout" = "not-authenticated";
  private tls: boolean;
  private account: Account | null = null;
  private selected: SelectedMailbox | null = null;
  private readonly enabled = new Set<ImapExtension>();
  private unsubscribe: (() => void) | null = null;
  /** The owner's change feed while a mailbox of another account is selected (acl/shared-session.ts). */
  private unsubscribeShared: (() => void) | null = null;
  private ended = false;
  /** The server is stopping (stop()): no command is started after the one in flight. */
  private stopping = false;
  /** True while the session waits for the client's bytes: nothing of ours is in flight. */
  private awaitingInput = false;
  private closing: Promise<void> | null = null;
  private readonly deadline: SessionDeadline;
  private pendingEvent: Promise<ReaderEvent | null> | null = null;
  private wakeIdle: (() => void) | null = null;
  /** Set by STARTTLS, which writes its own tagged reply before the handshake. */
  private alreadyAnswered = false;
  private completion: TaggedCompletion = {};
  /** RFC 9738: the lowest UID the running command processed when it stopped at MESSAGELIMIT. */
  private messageLimitUid: number | null = null;
  private clientIdLogged = false;
  private readonly intake: LiteralIntake;
  private readonly contextSource: ContextSource;
  private readonly protocolErrors: ProtocolErrorLog;
  /** The transport, switchable to DEFLATE by COMPRESS (RFC 4978, deflate-transport.ts). */
  private readonly compression: CompressibleTransport;
  /** RFC 5465 NOTIFY (notify.ts): what this client asked to hear about, and what it is owed. */
  private readonly notify = new NotifyState();
  /** Notifications being written between commands; a command waits for it (one writer at a time). */
  private unsolicited: Promise<void> | null = null;
  private idling = false;

  constructor(given: ImapSessionOptions) {
    // Per-user \Seen on shared mailboxes (acl/private-seen-view.ts): every command and sync of
    // this session reads and writes flags as the logged-in user sees them.
    const options: ImapSessionOptions = { ...given, store: privateSeenView(given.store, () => this.account?.id ?? null) };
    this.compression = compressibleTransport(options.transport);
    this.o = { ...options, transport: this.compression };
    this.id = options.id ?? randomBytes(6).toString("base64url");
    this.protocolErrors = new ProtocolErrorLog(options.log, this.id, () => options.clock().getTime());
    this.table = options.commands ?? buildCommandTable();
    this.tls = options.tls;
    this.deadline = new SessionDeadline(options.timers, (kind) => {
      this.o.log.info("imap.timeout", { session: this.id, kind });
      // RFC 9051 §5.4: the autologout timer; the BYE says why.
      void this.closeWith(kind === "idle" ? "Autologout; idle for too long" : "Autologout; command not completed in time", "UNAVAILABLE");
    });
    this.intake = new LiteralIntake(options.store, () => options.limits.imapLiteralSize);
    this.reader = new CommandReader({
      maxLineLength: options.limits.imapLineLength,
      maxLiteralSize: options.limits.imapLiteralSize,
      streamLiteral: (lines, index) => {
        const name = commandNameOf(lines[0]);
        return name !== null && this.table.find(name, false)?.streamsLiteral?.(lines, index) === true;
      },
      literalLimit: (lines, index) => {
        const name = commandNameOf(lines[0]);
        return name === null ? undefined : this.table.find(name, false)?.literalLimit?.(lines, index);
      },
    });
    this.contextSource = {
      store: options.store,
      ...(options.quota === undefined ? {} : { quota: options.quota }),
      ...(options.metadataLimits === undefined ? {} : { metadataLimits: options.metadataLimits }),
      ...(options.messageLimit === undefined ? {} : { messageLimit: options.messageLimit }),
      ...(options.quotaAdmin === undefined ? {} : { quotaAdmin: options.quotaAdmin }),
      noteMessageLimit: (lowestUid) => {
        this.messageLimitUid = lowestUid;
      },
      log: options.log,
      clock: options.clock,
      control: this.control,
      enabled: this.enabled,
      account: () => this.account,
      selected: () => this.selected,
      rev2: () => this.rev2,
      utf8: () => this.utf8,
      write: (bytes) => this.write(bytes),
      writeValues: (values) => this.writeValues(values),
      writeManyValues: (responses) => this.writeManyValues(responses),
      complete: (result) => {
        this.completion = result;
      },
      stagedLiteral: (piece, maxBytes) => this.intake.stage(piece, maxBytes),
    };
  }

  get closed(): boolean {
    return this.ended;
  }

  /** The logged-in account, or null before login (for ending the sessions of a deleted account). */
  get accountId(): AccountId | null {
    return this.account?.id ?? null;
  }

  /** The account object the login returned (auth/ loginCredential tells which secret it used). */
  get loggedInAccount(): Account | null {
    return this.account;
  }

  /** Runs the whole session; resolves when it is over. Never rejects for client behaviour. */
  async run(): Promise<void> {
    try {
      // RFC 9051 §7.1.1: the greeting may carry the capabilities, sparing a round trip.
      await this.write(statusLine("*", "OK", `CAPABILITY ${this.capabilities().join(" ")}`, `${this.o.hostname} Mailroom IMAP4rev2 ready`));
      while (!this.ended) {
        const event = await this.nextEvent();
        if (event === null) break;
        await this.handleEvent(event);
      }
    } catch (error) {
      if (!(error instanceof SessionEnded)) this.o.log.error("imap.session_error", { session: this.id, error });
    } finally {
      this.finish();
    }
  }

  /**
   * Server stopping (RFC 9051 §7.1.5): a session waiting for the client (between commands, in
   * IDLE, or mid-way through a literal the client is still sending) gets `* BYE` at once; one
   * running a command (APPEND committing, MOVE, STORE, EXPUNGE) first sends that command's tagged
   * reply, starts none of the commands pipelined behind it, and then says BYE (nextEvent).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.awaitingInput) await this.closeWith(SHUTDOWN_TEXT);
  }

  /** Server shutdown or refusal: `* BYE <text>` and close (RFC 9051 §7.1.5). */
  closeWith(text: string, code: string | null = null): Promise<void> {
    if (this.ended) return Promise.resolve();
    // One BYE, even when a stop and the read loop both get here while it is being written.
    this.closing ??= (async () => {
      try {
        await this.o.transport.write(statusLine("*", "BYE", code, text));
      } catch {
        // Already gone.
      }
      this.finish();
    })();
    return this.closing;
  }

  private finish(): void {
    if (this.ended && this.unsubscribe === null && this.deadline.kind === null) return;
    this.ended = true;
    this.protocolErrors.finish();
    this.deadline.cancel();
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.followOwner(null);
    this.wakeIdle?.();
    void this.intake.release();
    this.o.transport.close();
  }

  // --- input ---------------------------------------------------------------------------------

  private async nextEvent(): Promise<ReaderEvent | null> {
    for (;;) {
      if (this.stopping) {
        await this.closeWith(SHUTDOWN_TEXT);
        return null;
      }
      const event = this.reader.next();
      if (event !== null) {
        if (!this.reader.midCommand) this.setDeadline(null);
        return event;
      }
      if (this.ended) return null;
      this.setDeadline(this.reader.midCommand ? "command" : "idle");
      this.awaitingInput = true;
      let chunk: Buffer | null;
      try {
        chunk = await this.o.transport.read();
      } finally {
        this.awaitingInput = false;
      }
      if (chunk === null || this.ended) return null;
      if (this.deadline.kind === "idle") this.setDeadline(null);
      this.reader.push(chunk);
    }
  }

  private setDeadline(kind: DeadlineKind | null): void {
    this.deadline.set(kind, this.account === null ? this.o.limits.imapUnauthenticatedIdle : this.o.limits.imapIdle);
  }

  private async handleEvent(event: ReaderEvent): Promise<void> {
    switch (event.kind) {
      case "command":
        if (this.unsolicited !== null) await this.unsolicited;
        try {
          return await this.dispatch(event.text);
        } finally {
          await this.intake.release();
        }
      case "continue":
        return this.write(continuationLine("Ready for literal data"));
      case "literal-start":
        return this.acceptStreamedLiteral(event);
      case "literal-data":
        return this.intake.feed(event.chunk, event.remaining);
      case "line":
        return;
      case "refused":
        // The reader's refusals are all about the command's form (line or literal too long).
        this.protocolErrors.note({ command: null, status: event.status, code: event.code, text: event.text });
        await this.intake.release();
        await this.write(statusLine(event.tag ?? "*", event.status, event.code, event.text));
        if (event.close) await this.closeWith("Too much data without a continuation", "TOOBIG");
        return;
    }
  }

  // --- dispatch ------------------------------------------------------------------------------

  private async dispatch(text: CommandText): Promise<void> {
    const args = new ArgumentReader(text, { utf8Names: this.utf8 });
    let tag: string | null = null;
    let label = "";
    let allowExpunge = true;
    try {
      tag = args.tag();
      args.space();
      const { name, byUid, command, label: commandLabel } = readCommandHead(args, this.table, this.state, this.enabled.has("UIDONLY"));
      label = commandLabel;
      allowExpunge = !(command.holdsExpunges === true && !byUid);
      if (!args.atEnd()) args.space();
      const parsed: unknown = command.parse(args, { name, byUid, enabled: this.enabled, rev2: this.rev2, searchLimits: this.o.searchLimits });
      this.completion = {};
      this.messageLimitUid = null;
      this.alreadyAnswered = false;
      // RFC 4314: a command on a shared mailbox whose "r" right was withdrawn finds it closed
      // (acl/shared-session.ts); one that needs the selected state is then refused.
      if ((await this.closeIfReadWithdrawn()) && !command.states.includes("authenticated")) throw ImapError.no("NOPERM", "permission denied: the read right on the selected mailbox was withdrawn, the mailbox is closed");
      await command.run(this.contextFor(tag, name, byUid), parsed);
      // RFC 5267 §4.3: STORE answers its own FETCH, so the sync will not show the change.
      if (name === "STORE") searchUpdatesOf(this.selected)?.touch();
      if (this.alreadyAnswered) return;
      await this.flushSelected(allowExpunge);
      const { text: okText = `${label} completed` } = this.completion;
      let code = this.completion.code ?? null;
      if (this.messageLimitUid !== null) {
        // RFC 9738: the response code says where the client continues; an untagged NO carries it
        // when the tagged OK has a code of its own (MODIFIED, EXPUNGEISSUED).
        const limit = `MESSAGELIMIT ${this.o.messageLimit} ${this.messageLimitUid}`;
        if (code === null) code = limit;
        else await this.write(statusLine("*", "NO", limit, "only some messages were processed"));
      }
      await this.write(statusLine(tag, "OK", code, okText));
      if (this.loggingOut) this.finish();
    } catch (error) {
      if (!this.ended) await this.flushSelected(allowExpunge);
      await this.fail(tag, label, error);
    }
  }

  /** The one place a command's error becomes its tagged reply (ARCHITECTURE §5.5). */
  private async fail(tag: string | null, label: string, error: unknown): Promise<void> {
    if (error instanceof SessionEnded) throw error;
    const failure = failureFor(error);
    if (failure.bug) this.o.log.error("imap.command_failed", { session: this.id, command: label, error });
    // Every BAD, and a NO from the grammar (ImapParseError), is the client's protocol error.
    else if (failure.status === "BAD" || error instanceof ImapParseError) this.protocolErrors.note({ command: label === "" ? null : label, status: failure.status, code: failure.code, text: failure.text });
    await this.write(statusLine(tag ?? "*", failure.status, failure.code, failure.text));
  }

  /**
   * A streamed literal begins. The first of a command is accepted only when the command may run
   * now (state, target mailbox); refused, it gets its tagged reply instead of `+` (RFC 9051 §7.5)
   * and the reader drops what is left of it.
   */
  private async acceptStreamedLiteral(event: Extract<ReaderEvent, { kind: "literal-start" }>): Promise<void> {
    if (!this.intake.active) {
      const refusal = await checkStreamedCommand(event.text, { table: this.table, state: this.state, utf8: this.utf8, uidOnly: this.enabled.has("UIDONLY"), contextFor: (tag, name) => this.contextFor(tag, name, false) });
      if (refusal !== null) {
        this.reader.abandonCommand();
        return this.fail(refusal.tag, refusal.label, refusal.error);
      }
    }
    this.intake.begin(event.size);
    if (event.synchronising) await this.write(continuationLine("Ready for literal data"));
  }

  /**
   * Untagged updates of the selected mailbox (selected-mailbox.ts sync). None after LOGOUT's
   * `* BYE`: RFC 9051 §6.1.3 has only the tagged OK follow it, and a client that read the BYE has
   * already left the selected state, so an EXPUNGE or FETCH then names nothing it knows.
   */
  private async flushSelected(allowExpunge: boolean): Promise<void> {
    await this.flushSelectedMailbox(allowExpunge);
    // RFC 5465: other mailboxes' notifications go out at the same moments.
    if (this.notify.pending && !this.ended && !this.loggingOut) await this.writeManyValues(await this.notify.drain(this.notifyContext()));
  }

  private async flushSelectedMailbox(allowExpunge: boolean): Promise<void> {
    if (this.selected === null || this.ended || this.loggingOut) return;
    // Nothing about a shared mailbox once the user may no longer read it (acl/shared-session.ts).
    if (await this.closeIfReadWithdrawn()) return;
    const selected = this.selected;
    if (selected === null || this.ended) return;
    const lastUidBefore = selected.lastUid;
    let responses: ImapValue[][];
    const updates = searchUpdatesOf(selected);
    const viewBefore = updates?.needsSnapshot() === true ? selected.allUids() : null;
    try {
      responses = await selected.sync(this.o.store, { allowExpunge, condstore: this.condstore, qresync: this.enabled.has("QRESYNC"), rev2: this.rev2, uidOnly: this.enabled.has("UIDONLY") });
      // RFC 5267 §4.3: live SEARCH/SORT contexts' ADDTO/REMOVEFROM go out with the changes.
      if (updates !== undefined && updates.size > 0) responses = await weaveSearchUpdates(updates, selected, this.o.store, responses, viewBefore, this.rev2);
    } catch (error) {
      if (!isStoreError(error, "NONEXISTENT")) throw error;
      // The mailbox was deleted by another session: nothing in it can be named any more.
      await this.closeWith("Selected mailbox was deleted", "UNAVAILABLE");
      throw new SessionEnded();
    }
    if (responses.length > 0) await this.writeManyValues(responses);
    const fetch = this.notify.selectedGroup?.fetch ?? null;
    if (fetch !== null && selected.lastUid > lastUidBefore && this.selected === selected) {
      // RFC 5465 §5.2: MessageNew with fetch attributes answers the new messages as UID FETCH would.
      const completion = this.completion;
      await fetchCommand.run(this.contextFor("*", "FETCH", true), { set: { kind: "ranges", ranges: [{ start: lastUidBefore + 1, end: selected.lastUid }] }, request: fetch });
      this.completion = completion;
    }
  }

  private notifyContext(): { store: ImapSessionOptions["store"]; accountId: AccountId; encode: (name: string) => string } {
    const account = this.account;
    if (account === null) throw ImapError.bad(null, "not authenticated");
    return { store: this.o.store, accountId: account.id, encode: (name) => encodeMailboxName(name, this.utf8) };
  }

  /**
   * RFC 5465 §1: with NOTIFY, changes go out as they happen, not only at the next command: when
   * the session is between commands (waiting for input, not in IDLE, which has its own flushing),
   * they are written at once. Expunges of the selected mailbox only with SELECTED (§6: with
   * SELECTED-DELAYED they wait for a command that may carry them).
   */
  private pushUnsolicited(): void {
    if (!this.awaitingInput || this.idling || this.reader.midCommand || this.unsolicited !== null || this.ended) return;
    const group = this.notify.selectedGroup;
    const selectedToo = group !== null && group.events.length > 0 && this.selected?.dirty === true;
    if (!this.notify.pending && !selectedToo) return;
    this.unsolicited = (async () => {
      try {
        if (selectedToo) await this.flushSelected(group.filter.kind === "selected");
        else if (this.notify.pending) await this.writeManyValues(await this.notify.drain(this.notifyContext()));
      } catch (error) {
        if (!(error instanceof SessionEnded)) this.o.log.warn("imap.notify_failed", { session: this.id, error });
      } finally {
        this.unsolicited = null;
      }
    })();
  }

  private get loggingOut(): boolean {
    return this.state === "logout";
  }

  private get utf8(): boolean {
    return this.enabled.has("IMAP4REV2") || this.enabled.has("UTF8=ACCEPT");
  }

  private get rev2(): boolean {
    return this.enabled.has("IMAP4REV2");
  }

  /** RFC 7162 §3.1: CONDSTORE is on once enabled, implied by QRESYNC. */
  private get condstore(): boolean {
    return this.enabled.has("CONDSTORE") || this.enabled.has("QRESYNC");
  }

  private capabilities(): string[] {
    return capabilityList(
      { authenticated: this.account !== null, tls: this.tls, startTlsAvailable: this.o.startTlsAvailable && !this.compression.compressing, allowPlaintextAuth: this.o.allowPlaintextAuth, appendLimit: this.o.limits.imapLiteralSize, scram: this.o.authenticator.supportsScram === true, ...(this.o.messageLimit === undefined ? {} : { messageLimit: this.o.messageLimit }), quotaSet: (this.o.quotaAdmin?.admins.size ?? 0) > 0 },
      this.table,
    );
  }

  // --- output --------------------------------------------------------------------------------

  private async write(bytes: Buffer): Promise<void> {
    if (this.ended) throw new SessionEnded();
    try {
      await this.o.transport.write(bytes);
    } catch {
      this.finish();
      throw new SessionEnded();
    }
  }

  private writeValues(values: readonly ImapValue[]): Promise<void> {
    return this.writeManyValues([values]);
  }

  private async writeManyValues(responses: readonly (readonly ImapValue[])[]): Promise<void> {
    try {
      await writeResponses({ write: (bytes) => this.write(bytes) }, "* ", responses);
    } catch (error) {
      if (!(error instanceof SessionEnded)) this.o.log.error("imap.response_failed", { session: this.id, error });
      this.finish();
      throw new SessionEnded();
    }
  }

  // --- what commands see ---------------------------------------------------------------------

  private contextFor(tag: string, name: string, byUid: boolean): CommandContext {
    return commandContext(this.contextSource, tag, name, byUid);
  }



  private readonly control: SessionControl = {
    capabilities: () => this.capabilities(),
    authLink: () => ({
      tls: this.tls,
      allowPlaintextAuth: this.o.allowPlaintextAuth,
      remoteAddress: this.o.remoteAddress,
      ...(this.o.authenticator.saslContext && this.o.authenticator.supportsScram
        ? { saslContext: () => this.o.authenticator.saslContext!({ remoteAddress: this.o.remoteAddress, protocol: "imap", tls: this.tls }, this.o.transport.channelBindings?.() ?? null) }
        : {}),
    }),
    authenticate: (credentials) => this.login(credentials),
    startTls: (tag) => this.startTls(tag),
    // Not under COMPRESS (reachable after UNAUTHENTICATE): TLS would start beneath the deflate
    // layer the peer still runs, and RFC 4978 §4 has TLS come first.
    startTlsAvailable: () => this.o.startTlsAvailable && !this.tls && !this.compression.compressing,
    compress: (tag) => this.startCompression(tag),
    setNotify: (request) => this.setNotify(request),
    select: (mailbox, readOnly) => this.select(mailbox, readOnly),
    deselect: () => {
      this.selected = null;
      this.followOwner(null);
      if (this.state === "selected") this.state = "authenticated";
    },
    enable: (extension) => {
      this.enabled.add(extension);
    },
    readLine: () => this.readLine(),
    idle: () => this.idle(),
    logout: () => {
      this.state = "logout";
    },
    unauthenticate: () => {
      // RFC 8437 §3: the mailbox is closed without expunging and the session is as after the
      // greeting (the TLS layer stays; ENABLE is per authenticated session, RFC 5161 §3.1).
      this.selected = null;
      this.followOwner(null);
      this.account = null;
      this.unsubscribe?.();
      this.unsubscribe = null;
      this.enabled.clear();
      // RFC 5465 §3: NOTIFY belongs to the authenticated session; its groups and what they owe go too.
      this.notify.reset();
      this.state = "not-authenticated";
    },
    appendLimit: () => this.o.limits.imapLiteralSize,
    noteClientId: (fields) => {
      if (this.clientIdLogged) return;
      this.clientIdLogged = true;
      const shown = [...fields].slice(0, 30).map(([k, v]) => [k.slice(0, 30), v?.slice(0, 128) ?? null]);
      this.o.log.info("imap.client_id", { session: this.id, id: Object.fromEntries(shown) });
    },
  };

  // --- state changes -------------------------------------------------------------------------

  private async login(credentials: SaslCredentials): Promise<"ok" | "invalid" | "unavailable"> {
    const result = await this.o.authenticator.authenticateSasl(credentials, { remoteAddress: this.o.remoteAddress, protocol: "imap", tls: this.tls });
    if (!result.ok) return result.reason === "invalid-credentials" ? "invalid" : "unavailable";
    this.account = result.account;
    this.state = "authenticated";
    this.unsubscribe = this.o.store.changes.subscribe(result.account.id, (batch) => {
      const selected = this.selected;
      if (this.notify.active) {
        this.notify.onBatch(batch, selected?.mailboxId ?? null);
        if (this.notify.pending) this.wakeIdle?.();
      }
      if (selected !== null && batch.changes.some((change) => "mailboxId" in change && change.mailboxId === selected.mailboxId)) {
        selected.markDirty();
        this.wakeIdle?.();
      }
      if (this.notify.active) this.pushUnsolicited();
    });
    return "ok";
  }

  /** RFC 9051 §6.2.1: OK first, then the handshake; plaintext pipelined after the command is dropped. */
  private async startTls(tag: string): Promise<void> {
    await this.write(statusLine(tag, "OK", null, "Begin TLS negotiation now"));
    this.alreadyAnswered = true;
    const dropped = this.reader.discardBuffered();
    if (dropped > 0) this.o.log.warn("imap.starttls_pipelined_input_dropped", { session: this.id, octets: dropped });
    try {
      await this.o.transport.startTls();
    } catch (error) {
      this.o.log.info("imap.starttls_failed", { session: this.id, error });
      this.finish();
      throw new SessionEnded();
    }
    this.tls = true;
  }

  /** RFC 4978 §3: OK uncompressed, then DEFLATE both ways; input pipelined after COMPRESS is dropped. */
  private async startCompression(tag: string): Promise<void> {
    if (this.compression.compressing) throw ImapError.no("COMPRESSIONACTIVE", "DEFLATE is active already");
    await this.write(statusLine(tag, "OK", null, "DEFLATE active"));
    this.alreadyAnswered = true;
    const dropped = this.reader.discardBuffered();
    if (dropped > 0) this.o.log.warn("imap.compress_pipelined_input_dropped", { session: this.id, octets: dropped });
    this.compression.startCompression();
  }

  /** RFC 5465 NOTIFY SET / NONE; SET STATUS's responses go out before the tagged OK. */
  private async setNotify(request: NotifyRequest): Promise<void> {
    const responses = await this.notify.set(request, this.notifyContext(), this.selected?.mailboxId ?? null);
    if (responses.length > 0) await this.writeManyValues(responses);
  }

  private async select(mailbox: Mailbox, readOnly: boolean): Promise<SelectedMailbox> {
    this.selected = null;
    this.state = "authenticated";
    // RFC 3501 §2.3.2: a read-write rev1 session claims the mailbox's \Recent messages; EXAMINE
    // only shows them, and IMAP4rev2 (RFC 9051 Appendix E) has none.
    const selected = await SelectedMailbox.open(this.o.store, mailbox, readOnly, this.rev2 ? "none" : readOnly ? "peek" : "claim");
    this.selected = selected;
    this.state = "selected";
    this.followOwner(mailbox);
    return selected;
  }

  /**
   * A selected mailbox of another account whose "r" right was withdrawn is closed by the server:
   * `* OK [CLOSED]`, the authenticated state, the owner's feed dropped (acl/shared-session.ts).
   */
  private async closeIfReadWithdrawn(): Promise<boolean> {
    const selected = this.selected;
    if (selected === null || this.ended) return false;
    if (!(await readRightWithdrawn(this.o.store, this.account?.id ?? null, selected)) || this.selected !== selected) return false;
    this.selected = null;
    this.followOwner(null);
    if (this.state === "selected") this.state = "authenticated";
    await this.write(statusLine("*", "OK", "CLOSED", "access to the selected mailbox was withdrawn"));
    return true;
  }

  /**
   * While a mailbox of another account is selected, its changes come on the owner's feed: IDLE
   * and the next sync see them as they see the account's own (RFC 2177, RFC 7162).
   */
  private followOwner(mailbox: Mailbox | null): void {
    this.unsubscribeShared?.();
    this.unsubscribeShared = null;
    if (mailbox === null || this.account === null || mailbox.accountId === this.account.id) return;
    this.unsubscribeShared = this.o.store.changes.subscribe(mailbox.accountId, (batch) => {
      const selected = this.selected;
      if (selected !== null && batch.changes.some((change) => "mailboxId" in change && change.mailboxId === selected.mailboxId)) {
        selected.markDirty();
        this.wakeIdle?.();
        // RFC 5465: with NOTIFY (SELECTED) the changes go out between commands, as for own mailboxes.
        if (this.notify.active) this.pushUnsolicited();
      }
    });
  }

  private async readLine(): Promise<Buffer | null> {
    this.reader.expectLine();
    const event = await this.nextEvent();
    if (event === null) return null;
    if (event.kind === "line") return event.line;
    if (event.kind === "refused") throw ImapError.bad(event.code, event.text);
    throw ImapError.bad(null, "expected a line");
  }

  /** RFC 2177 IDLE (idle.ts). */
  private async idle(): Promise<boolean> {
    this.idling = true;
    try {
      return await this.idleLoop();
    } finally {
      this.idling = false;
    }
  }

  private idleLoop(): Promise<boolean> {
    return idleUntilDone({
      flush: () => this.flushSelected(true),
      write: (bytes) => this.write(bytes),
      dirty: () => this.selected?.dirty === true || this.notify.pending,
      nextLine: () => {
        this.reader.expectLine();
        return (this.pendingEvent ??= this.nextEvent());
      },
      lineTaken: () => {
        this.pendingEvent = null;
      },
      onWake: (wake) => {
        this.wakeIdle = wake;
      },
    });
  }
}
