// What a session does for a selected mailbox of another account (RFC 4314): the user's rights are
// read again before every command and before every sync of the mailbox (after a command, in IDLE
// when the owner's change feed wakes it, for a NOTIFY push), so a SETACL, DELETEACL or
// `mailroom unshare` by the owner takes effect at once. Changes by the owner and other users reach
// this session through the owner's change feed, which the session follows while the mailbox is
// selected (imap-session.ts followOwner).
//
// Once "r" is gone the session leaves the mailbox itself: `* OK [CLOSED]` (the response code of
// RFC 7162 §3.2.11 / RFC 9051 §7.1 that marks where a mailbox's responses end), the session back
// in the authenticated state, the owner's feed dropped, so not one more EXISTS, FETCH or VANISHED
// about the mailbox is sent. Ending the session with BYE would also do (RFC 4314 leaves what a
// server does about a revoke on a selected mailbox to it), but would drop the user's whole
// connection, an IDLE on their own mailboxes and NOTIFY on others included, for a change on
// someone else's folder; the deselect costs them only the mailbox they lost.
import type { AccountId, MailStore } from "../../store/index.js";
import type { SelectedMailbox } from "../session/selected-mailbox.js";

/** Re-reads the user's rights on a selected mailbox of another account; true when "r" is gone. */
export async function readRightWithdrawn(store: MailStore, accountId: AccountId | null, selected: SelectedMailbox | null): Promise<boolean> {
  if (selected === null || accountId === null || selected.mailbox.accountId === accountId) return false;
  selected.rights = await store.rightsOf(selected.mailboxId, accountId);
  return !selected.rights.includes("r");
}
