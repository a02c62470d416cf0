// The CommandContext a command runs with (commands/command.ts): what it may read of the session,
// the writers for its untagged responses, and SessionControl for the few commands that change
// the session's state. Built per command from live accessors, so a command that changes the
// state (LOGIN, SELECT) sees the change in its own later calls.
import type { Logger } from "../../observability/log.js";
import type { Account, MailStore, StagedMessage } from "../../store/index.js";
import type { QuotaService } from "../../delivery/quota-warning.js";
import type { CommandContext, ImapExtension, SessionControl, TaggedCompletion } from "../commands/command.js";
import { ImapError } from "../commands/imap-error.js";
import { DEFAULT_METADATA_LIMITS, type ImapMetadataLimits } from "../commands/metadata.js";
import type { QuotaAdministration } from "../commands/setquota.js";
import type { LiteralPiece } from "../protocol/arguments.js";
import { encodeMailboxName } from "../protocol/mailbox-name.js";
import { continuationLine, statusLine } from "../protocol/response.js";
import { atom, list, num, type ImapValue } from "../protocol/response-value.js";
import type { SelectedMailbox, SeqNum } from "./selected-mailbox.js";

/** What the session lends a command. */
export interface ContextSource {
  readonly store: MailStore;
  readonly quota?: QuotaService;
  readonly log: Logger;
  readonly clock: () => Date;
  readonly control: SessionControl;
  /** [imap] metadata_* (RFC 5464); absent: DEFAULT_METADATA_LIMITS. */
  readonly metadataLimits?: ImapMetadataLimits;
  /** [imap] message_limit (RFC 9738); absent: none. */
  readonly messageLimit?: number;
  /** [imap] quota_admins (RFC 9208 SETQUOTA); absent: nobody. */
  readonly quotaAdmin?: QuotaAdministration;
  /** RFC 9738: the lowest UID the command processed when it stopped at the limit. */
  noteMessageLimit(lowestUid: number): void;
  readonly enabled: ReadonlySet<ImapExtension>;
  account(): Account | null;
  selected(): SelectedMailbox | null;
  rev2(): boolean;
  utf8(): boolean;
  write(bytes: Buffer): Promise<void>;
  writeValues(values: readonly ImapValue[]): Promise<void>;
  /** Several untagged responses, encoded together. */
  writeManyValues(responses: readonly (readonly ImapValue[])[]): Promise<void>;
  complete(result: TaggedCompletion): void;
  stagedLiteral(piece: LiteralPiece, maxBytes: number): Promise<StagedMessage>;
}

const flagsUpdate = (source: ContextSource): ImapValue[][] => source.selected()?.flagsUpdate() ?? [];

/**
 * One FETCH response's values after "* ": `seq FETCH (...)`, or under RFC 9586 UIDONLY
 * `uid UIDFETCH (...)` (the session still numbers messages internally; only the wire changes).
 */
function fetchValues(source: ContextSource, seq: SeqNum, items: ImapValue[]): ImapValue[] {
  const selected = source.selected();
  if (source.enabled.has("UIDONLY") && selected !== null) return [num(selected.toUid(seq)), atom("UIDFETCH"), list(items)];
  return [num(seq), atom("FETCH"), list(items)];
}

export function commandContext(source: ContextSource, tag: string, name: string, byUid: boolean): CommandContext {
  const utf8 = source.utf8();
  return {
    tag,
    name,
    byUid,
    store: source.store,
    quota: source.quota ?? null,
    account: source.account(),
    selected: source.selected(),
    enabled: source.enabled,
    rev2: source.rev2(),
    utf8,
    uidOnly: source.enabled.has("UIDONLY"),
    log: source.log,
    clock: source.clock,
    session: source.control,
    metadataLimits: source.metadataLimits ?? DEFAULT_METADATA_LIMITS,
    messageLimit: source.messageLimit ?? null,
    quotaAdmin: source.quotaAdmin ?? null,
    messageLimitReached: (lowestUid) => source.noteMessageLimit(lowestUid),
    requireAccount: () => {
      const account = source.account();
      if (account === null) throw ImapError.bad(null, "not authenticated");
      return account;
    },
    requireSelected: () => {
      const selected = source.selected();
      if (selected === null) throw ImapError.bad(null, "no mailbox selected");
      return selected;
    },
    untagged: (...values) => source.writeValues(values),
    untaggedStatus: (status, code, text) => source.write(statusLine("*", status, code, text)),
    // A keyword these FETCH responses show for the first time is announced before them
    // (selected-mailbox.ts flagsUpdate; RFC 9051 §7.3.5).
    fetchResponse: (seq, items) => source.writeManyValues([...flagsUpdate(source), fetchValues(source, seq, items)]),
    fetchResponses: (responses) => source.writeManyValues([...flagsUpdate(source), ...responses.map(([seq, items]) => fetchValues(source, seq, items))]),
    fetchText: async (text) => {
      const update = flagsUpdate(source);
      if (update.length > 0) await source.writeManyValues(update);
      // UTF-8: ENVELOPE/BODYSTRUCTURE encoded at delivery are strings whose UTF-8 form is the wire bytes.
      await source.write(typeof text === "string" ? Buffer.from(text, "utf8") : text);
    },
    continuation: (text) => source.write(continuationLine(text)),
    complete: (result) => source.complete(result),
    encodeMailbox: (mailboxName) => encodeMailboxName(mailboxName, utf8),
    stagedLiteral: (piece, maxBytes) => source.stagedLiteral(piece, maxBytes),
  };
}
