// The contract of one IMAP command module (ARCHITECTURE §5.2): its names, whether it has a UID
// form, the states it is valid in, how it uses message sequence numbers, a pure parse of its
// arguments, and run. Dispatch (session/imap-session.ts) checks the state before parse, parses
// everything before run (RFC 9051: a BAD never has side effects), and maps every error thrown
// by parse or run to the tagged reply in one place. A run that returns normally is answered
// `<tag> OK [code] <NAME> completed` (or the text given to ctx.complete()).
//
// A new command is one file exporting an ImapCommand and one line in commands/index.ts.
import type { SaslCredentials, SaslServerContext } from "../../auth/index.js";
import type { Logger } from "../../observability/log.js";
import type { QuotaService } from "../../delivery/quota-warning.js";
import type { Account, Mailbox, MailStore, StagedMessage } from "../../store/index.js";
import type { ArgumentReader, LiteralPiece } from "../protocol/arguments.js";
import type { ImapValue } from "../protocol/response-value.js";
import type { SearchLimits } from "../protocol/search-key.js";
import type { SelectedMailbox, SeqNum } from "../session/selected-mailbox.js";

export { ImapError } from "./imap-error.js";
export type { SelectedMailbox, SeqNum } from "../session/selected-mailbox.js";

/** RFC 9051 §3: the logout state needs no entry, no command runs in it. */
import type { ImapMetadataLimits } from "./metadata.js";
import type { QuotaAdministration } from "./setquota.js";
import type { NotifyRequest } from "../protocol/notify.js";

export type SessionState = "not-authenticated" | "authenticated" | "selected";

/**
 * How a command relates to message sequence numbers (RFC 9051 §5.5), as Dovecot's command flags:
 * "uses": takes or returns sequence numbers (FETCH, STORE, SEARCH, COPY);
 * "breaks": may renumber messages (EXPUNGE, CLOSE, SELECT);
 * "uses-and-breaks": both (MOVE).
 * The session runs commands one at a time, so pipelined commands never interleave; the
 * declaration states the contract and lets dispatch decide when EXPUNGE may be sent.
 */
export type SequenceUse = "none" | "uses" | "breaks" | "uses-and-breaks";

/** Extensions a client can ENABLE (RFC 5161); IMAP4rev2 is spelled upper-case. */
export type ImapExtension = "CONDSTORE" | "QRESYNC" | "IMAP4REV2" | "UTF8=ACCEPT" | "UIDONLY";

export interface ParseContext {
  /** The command name as dispatched, upper case, without "UID " (e.g. "EXAMINE", "FETCH"). */
  readonly name: string;
  readonly byUid: boolean;
  readonly enabled: ReadonlySet<ImapExtension>;
  /** IMAP4rev2 enabled (RFC 9051 §2.1): changes some responses (no RECENT, ESEARCH for SEARCH). */
  readonly rev2: boolean;
  /** SEARCH nesting and key limits ([imap] in the config); absent: DEFAULT_SEARCH_LIMITS. */
  readonly searchLimits?: SearchLimits;
}

/** What the tagged OK says: `<tag> OK [code] text`. */
export interface TaggedCompletion {
  code?: string | null;
  text?: string;
}

/** The SASL link a login command checks mechanisms against (auth/ mechanismPermitted). */
export interface AuthLink {
  readonly tls: boolean;
  readonly allowPlaintextAuth: boolean;
  readonly remoteAddress: string;
  /** The server context for SCRAM on this link (auth/ Authenticator.saslContext); absent: no SCRAM. */
  readonly saslContext?: () => SaslServerContext;
}

/** Session-level operations: only the commands that change the session's state use these. */
export interface SessionControl {
  /** The CAPABILITY list for the current state (RFC 9051 §6.1.1), without the word CAPABILITY. */
  capabilities(): string[];
  authLink(): AuthLink;
  /** Checks credentials (auth/Authenticator) and, on success, enters the authenticated state. */
  authenticate(credentials: SaslCredentials): Promise<"ok" | "invalid" | "unavailable">;
  /** RFC 9051 §6.2.1: writes the tagged OK, negotiates TLS, drops pipelined plaintext. */
  startTls(tag: string): Promise<void>;
  /** STARTTLS is offered: a certificate exists and the link is not encrypted yet. */
  startTlsAvailable(): boolean;
  /** RFC 4978 COMPRESS=DEFLATE: writes the tagged OK, then compresses both directions (NO [COMPRESSIONACTIVE] if on). */
  compress(tag: string): Promise<void>;
  /** RFC 5465 NOTIFY SET / NONE (session/notify.ts); writes SET STATUS's STATUS responses. */
  setNotify(request: NotifyRequest): Promise<void>;
  /** Enters the selected state (replacing any selected mailbox; emits nothing itself). */
  select(mailbox: Mailbox, readOnly: boolean): Promise<SelectedMailbox>;
  /** Leaves the selected state; `closed` sends `* OK [CLOSED]` first (RFC 7162 §3.2.11). */
  deselect(): void;
  enable(extension: ImapExtension): void;
  /** The next raw line the client sends (AUTHENTICATE responses, IDLE's DONE); null at EOF. */
  readLine(): Promise<Buffer | null>;
  /**
   * RFC 2177 IDLE: sends pending and live mailbox changes at once until the client's DONE line
   * (resolves true) or EOF / timeout (false).
   */
  idle(): Promise<boolean>;
  /** Ends the session after the tagged reply (LOGOUT). */
  logout(): void;
  /**
   * RFC 8437 UNAUTHENTICATE: back to the not-authenticated state as if newly connected (any
   * mailbox closed without expunging, ENABLEd extensions off, no account).
   */
  unauthenticate(): void;
  appendLimit(): number;
  /** Logs a client ID (RFC 2971) once. */
  noteClientId(fields: ReadonlyMap<string, string | null>): void;
}

export interface CommandContext {
  readonly tag: string;
  /** Upper case, without "UID ". */
  readonly name: string;
  readonly byUid: boolean;
  readonly store: MailStore;
  /** Fresh quota usage and the usage warning (RFC 9208); null when the server has none (tests). */
  readonly quota?: QuotaService | null;
  /** Null before login. */
  readonly account: Account | null;
  /** Null unless in the selected state. */
  readonly selected: SelectedMailbox | null;
  readonly enabled: ReadonlySet<ImapExtension>;
  readonly rev2: boolean;
  /** Mailbox names on the wire are UTF-8 (IMAP4rev2 or UTF8=ACCEPT), else modified UTF-7. */
  readonly utf8: boolean;
  /** RFC 9586 UIDONLY enabled: no sequence number in any response (commands/uid-only.ts). */
  readonly uidOnly: boolean;
  readonly log: Logger;
  readonly clock: () => Date;
  readonly session: SessionControl;
  /** RFC 5464 METADATA limits ([imap] metadata_*; commands/metadata.ts). */
  readonly metadataLimits: ImapMetadataLimits;
  /** RFC 9738 MESSAGELIMIT: messages one command may process ([imap] message_limit); null: no limit. */
  readonly messageLimit: number | null;
  /**
   * RFC 9738: the command processed only the messages from `lowestUid` up; the tagged OK carries
   * `[MESSAGELIMIT n lowestUid]` (or, when it has another code, an untagged NO does). See message-limit.ts.
   */
  messageLimitReached(lowestUid: number): void;
  /** RFC 9208 SETQUOTA administrators ([imap] quota_admins, setquota.ts); null: nobody. */
  readonly quotaAdmin: QuotaAdministration | null;

  /** The logged-in account; BAD if none (dispatch already checks states, so this is a guard). */
  requireAccount(): Account;
  requireSelected(): SelectedMailbox;

  /** Writes `* ` + values separated by SP + CRLF, literals streamed, resolving after back-pressure. */
  untagged(...values: ImapValue[]): Promise<void>;
  /** `* OK [code] text` and the like (RFC 9051 §7.1). */
  untaggedStatus(status: "OK" | "NO" | "BAD" | "BYE", code: string | null, text: string): Promise<void>;
  /** `* <seq> FETCH (<items>)` (`* <uid> UIDFETCH (<items>)` under UIDONLY): items already flattened. */
  fetchResponse(seq: SeqNum, items: ImapValue[]): Promise<void>;
  /** Several `* <seq> FETCH (...)` responses written together, in order (few socket writes for many messages). */
  fetchResponses(responses: readonly (readonly [SeqNum, ImapValue[]])[]): Promise<void>;
  /**
   * `* <seq> FETCH (...)` lines already rendered as text (atoms, numbers, and ENVELOPE or
   * BODYSTRUCTURE encoded at delivery), written as UTF-8 in one block after any pending FLAGS
   * update, as fetchResponses.
   */
  fetchText(text: string | Buffer): Promise<void>;
  /** `+ text` (RFC 9051 §7.5). */
  continuation(text: string): Promise<void>;
  /** Sets the tagged OK's response code and text (the last call wins). */
  complete(result: TaggedCompletion): void;
  /** The wire form of a stored mailbox name for this client (mUTF-7 or UTF-8). */
  encodeMailbox(name: string): string;
  /**
   * A literal's octets staged in the store (streamed ones were staged as they arrived, see
   * ImapCommand.streamsLiteral). The session discards whatever is left staged after the command.
   */
  stagedLiteral(piece: LiteralPiece, maxBytes: number): Promise<StagedMessage>;
}

export interface ImapCommand<A> {
  /** Command names this module serves, upper case (e.g. ["SELECT", "EXAMINE"]). */
  readonly names: readonly string[];
  /** Accepts the `UID <name>` form (ctx.byUid is then true). */
  readonly uid: boolean;
  readonly states: readonly SessionState[];
  readonly sequenceUse: SequenceUse;
  /**
   * RFC 9051 §7.4.1: an EXPUNGE response must not be sent while responding to FETCH, STORE or
   * SEARCH (their non-UID forms), since the client could not tell which message was meant.
   * Those modules set this; pending expunges then wait for the next command that allows them.
   */
  readonly holdsExpunges?: boolean;
  /**
   * CAPABILITY atoms this module implements (e.g. ["MOVE"], ["ESEARCH", "SEARCHRES"], ["BINARY"]);
   * the session advertises the union. CONDSTORE and QRESYNC are advertised only when every
   * module they touch (SELECT, STORE, FETCH, SEARCH) declares them (session/capabilities.ts).
   */
  readonly capabilities?: readonly string[];
  /**
   * Literals this command takes as streams (APPEND's message data, ARCHITECTURE §5.9): given the
   * command's text lines so far (the last ends with the literal's marker) and the literal's index.
   * Their octets go to the store as they arrive (ctx.stagedLiteral), never into memory.
   */
  streamsLiteral?(lines: readonly Buffer[], index: number): boolean;
  /** A bound below imap_literal_size for a literal this command collects (CommandReaderLimits.literalLimit). */
  literalLimit?(lines: readonly Buffer[], index: number): number | undefined;
  /**
   * Runs before the first streamed literal is accepted (before `+`): `args` is positioned after
   * the command name, over the text up to that literal. Throwing refuses the command before any
   * octet is stored (RFC 9051 §7.5: NO instead of the continuation).
   */
  beforeStreamedLiteral?(ctx: CommandContext, args: ArgumentReader): Promise<void>;
  /** Pure: arguments → typed value; throws ImapParseError (BAD) or ImapError. Reads to the end. */
  parse(args: ArgumentReader, ctx: ParseContext): A;
  run(ctx: CommandContext, args: A): Promise<void>;
}

/** A command of unknown argument type, as the table holds them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyImapCommand = ImapCommand<any>;

