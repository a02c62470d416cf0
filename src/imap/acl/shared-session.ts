// What a session does for a selected mailbox of another account (RFC 4314): the user's rights are
// read again before every command, so a SETACL or `mailroom unshare` by the owner takes effect at
// the user's next command; once "r" is gone, the commands that work on the selected mailbox's
// messages are refused (CLOSE and UNSELECT still leave it). Changes by the owner and other users
// reach this session through the owner's change feed (IDLE, and the sync after each command that
// CONDSTORE's MODSEQ/CHANGEDSINCE reads), which the session follows while the mailbox is selected.
import type { AccountId, MailStore } from "../../store/index.js";
import type { AnyImapCommand } from "../commands/command.js";
import { ImapError } from "../commands/imap-error.js";
import type { SelectedMailbox } from "../session/selected-mailbox.js";

/** Commands in the selected state that need no right: they only leave the mailbox. */
const LEAVING = new Set(["CLOSE", "UNSELECT"]);

export async function refreshSharedRights(store: MailStore, accountId: AccountId | null, selected: SelectedMailbox | null, command: AnyImapCommand, name: string): Promise<void> {
  if (selected === null || accountId === null || selected.mailbox.accountId === accountId) return;
  selected.rights = await store.rightsOf(selected.mailboxId, accountId);
  if (command.states.includes("authenticated") || LEAVING.has(name)) return;
  if (!selected.rights.includes("r")) throw ImapError.no("NOPERM", "permission denied: the read right on the selected mailbox was withdrawn");
}
