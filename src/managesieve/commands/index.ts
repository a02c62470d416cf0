// The command table: every ManageSieve command (RFC 5804 §2) and the states it is valid in.
import { authenticate, starttls, unauthenticate } from "./auth.js";
import type { CommandSpec } from "./context.js";
import { checkscript, deletescript, getscript, havespace, listscripts, putscript, renamescript, setactive } from "./scripts.js";
import { capability, logout, noop } from "./session-commands.js";

export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  AUTHENTICATE: authenticate,
  STARTTLS: starttls,
  UNAUTHENTICATE: unauthenticate,
  CAPABILITY: capability,
  NOOP: noop,
  LOGOUT: logout,
  HAVESPACE: havespace,
  PUTSCRIPT: putscript,
  CHECKSCRIPT: checkscript,
  LISTSCRIPTS: listscripts,
  SETACTIVE: setactive,
  GETSCRIPT: getscript,
  DELETESCRIPT: deletescript,
  RENAMESCRIPT: renamescript,
};

export { continueSasl } from "./auth.js";
export { ManageSieveError, type CommandSpec, type ManageSieveContext, type SessionState } from "./context.js";
