// The start of every command line: `tag SP [UID SP] name`, looked up in the command table and
// checked against the session's state (RFC 9051 §3: a command outside its states is BAD). Shared
// by dispatch and by the check made before a streamed literal is accepted.
import type { AnyImapCommand, CommandContext, SessionState } from "../commands/command.js";
import { ImapError } from "../commands/imap-error.js";
import { needsUidForm, uidRequired } from "../commands/uid-only.js";
import type { CommandTable } from "../commands/index.js";
import { ArgumentReader, type CommandText } from "../protocol/arguments.js";

export interface CommandHead {
  readonly name: string;
  readonly byUid: boolean;
  /** "FETCH" or "UID FETCH", for replies and logs. */
  readonly label: string;
  readonly command: AnyImapCommand;
}

/**
 * Reads the name after the tag; throws BAD for an unknown command or one not valid in `state`,
 * and under RFC 9586 UIDONLY `BAD [UIDREQUIRED]` for a non-UID form taking sequence numbers.
 */
export function readCommandHead(args: ArgumentReader, table: CommandTable, state: SessionState | "logout", uidOnly = false): CommandHead {
  let name = args.atom().toUpperCase();
  const byUid = name === "UID";
  if (byUid) {
    args.space();
    name = args.atom().toUpperCase();
  }
  const label = byUid ? `UID ${name}` : name;
  const command = table.find(name, byUid);
  if (command === null) throw ImapError.bad(null, `unknown command ${label.slice(0, 40)}`);
  if (state === "logout" || !command.states.includes(state)) throw ImapError.bad(null, `${label} is not allowed in this state`);
  if (uidOnly && needsUidForm(command, byUid)) throw uidRequired(label);
  return { name, byUid, label, command };
}

/** The command name of a command's first line, upper case, or null (for the streamLiteral check). */
export function commandNameOf(firstLine: Buffer | undefined): string | null {
  // "UID REPLACE" (RFC 8508) streams its message literal as REPLACE does: the name after UID.
  const match = /^[^ ]+ (?:UID )?([A-Za-z]+)[ ]/i.exec(firstLine?.toString("latin1", 0, 80) ?? "");
  return match?.[1]?.toUpperCase() ?? null;
}

export interface StreamedCommandCheck {
  readonly table: CommandTable;
  readonly state: SessionState | "logout";
  readonly utf8: boolean;
  /** RFC 9586 UIDONLY is enabled. */
  readonly uidOnly?: boolean;
  contextFor(tag: string, name: string): CommandContext;
}

/**
 * Before the first streamed literal of a command is accepted: its head, its state, and the
 * command's own beforeStreamedLiteral check, over the text up to that literal. Returns the
 * refusal (with the tag to answer) or null.
 */
export async function checkStreamedCommand(text: CommandText, check: StreamedCommandCheck): Promise<{ tag: string | null; label: string; error: unknown } | null> {
  const args = new ArgumentReader(text, { utf8Names: check.utf8 });
  let tag: string | null = null;
  let label = "";
  try {
    tag = args.tag();
    args.space();
    const head = readCommandHead(args, check.table, check.state, check.uidOnly === true);
    label = head.label;
    args.space();
    await head.command.beforeStreamedLiteral?.(check.contextFor(tag, head.name), args);
    return null;
  } catch (error) {
    return { tag, label, error };
  }
}
