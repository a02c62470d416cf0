// The IMAP command table: every command module, looked up by name. Adding a command is one
// import and one entry in COMMAND_MODULES below, e.g. for the FETCH and SEARCH modules:
//
//   import { fetchCommand } from "./fetch.js";     →  COMMAND_MODULES entry: fetchCommand,
//   import { searchCommand } from "./search.js";   →  COMMAND_MODULES entry: searchCommand,
//
// A module's `names` are its keys; `uid: true` also makes `UID <name>` dispatch to it.
import type { AnyImapCommand } from "./command.js";
import { aclCommand } from "./acl.js";
import { appendCommand } from "./append.js";
import { authenticateCommand } from "./authenticate.js";
import { cancelUpdateCommand } from "./cancelupdate.js";
import { capabilityCommand } from "./capability.js";
import { closeCommand } from "./close.js";
import { compressCommand } from "./compress.js";
import { copyCommand } from "./copy.js";
import { createCommand } from "./create.js";
import { deleteCommand } from "./delete.js";
import { enableCommand } from "./enable.js";
import { esearchCommand } from "./esearch.js";
import { expungeCommand } from "./expunge.js";
import { idCommand } from "./id.js";
import { idleCommand } from "./idle.js";
import { listCommand } from "./list.js";
import { loginCommand } from "./login.js";
import { logoutCommand } from "./logout.js";
import { metadataCommand } from "./metadata.js";
import { namespaceCommand } from "./namespace.js";
import { notifyCommand } from "./notify.js";
import { quotaCommand } from "./quota.js";
import { checkCommand, noopCommand } from "./noop.js";
import { renameCommand } from "./rename.js";
import { replaceCommand } from "./replace.js";
import { selectCommand } from "./select.js";
import { setQuotaCommand } from "./setquota.js";
import { startTlsCommand } from "./starttls.js";
import { statusCommand } from "./status.js";
import { storeCommand } from "./store.js";
import { subscribeCommand } from "./subscribe.js";
import { fetchCommand } from "./fetch.js";
import { searchCommand } from "./search.js";
import { sortCommand } from "./sort.js";
import { threadCommand } from "./thread.js";
import { unauthenticateCommand } from "./unauthenticate.js";

const COMMAND_MODULES: readonly AnyImapCommand[] = [
  // commands: one entry per module (keep alphabetical)
  aclCommand,
  appendCommand,
  authenticateCommand,
  cancelUpdateCommand,
  capabilityCommand,
  checkCommand,
  closeCommand,
  compressCommand,
  copyCommand,
  createCommand,
  deleteCommand,
  enableCommand,
  esearchCommand,
  expungeCommand,
  fetchCommand,
  idCommand,
  idleCommand,
  listCommand,
  loginCommand,
  logoutCommand,
  metadataCommand,
  namespaceCommand,
  noopCommand,
  notifyCommand,
  quotaCommand,
  renameCommand,
  replaceCommand,
  searchCommand,
  selectCommand,
  setQuotaCommand,
  sortCommand,
  startTlsCommand,
  statusCommand,
  storeCommand,
  subscribeCommand,
  threadCommand,
  unauthenticateCommand,
];

export interface CommandTable {
  /** The module serving `name` (upper case), or null. `byUid` selects the UID form. */
  find(name: string, byUid: boolean): AnyImapCommand | null;
  /** Every module, for the capability check in tests. */
  readonly modules: readonly AnyImapCommand[];
}

export function buildCommandTable(modules: readonly AnyImapCommand[] = COMMAND_MODULES): CommandTable {
  const byName = new Map<string, AnyImapCommand>();
  for (const module of modules) {
    for (const name of module.names) {
      if (byName.has(name)) throw new Error(`IMAP command ${name} is defined twice`);
      byName.set(name, module);
    }
  }
  return {
    modules,
    find(name, byUid) {
      const module = byName.get(name) ?? null;
      if (module !== null && byUid && !module.uid) return null;
      return module;
    },
  };
}
