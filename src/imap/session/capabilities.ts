// The CAPABILITY list (RFC 9051 §6.1.1, §7.2.2) for a session's state: the base protocol, the
// login options the link permits, and what the command modules declare they implement. Nothing is
// advertised that no module implements.
import { advertisedMechanisms } from "../../auth/index.js";
import type { CommandTable } from "../commands/index.js";

export interface CapabilityState {
  readonly authenticated: boolean;
  readonly tls: boolean;
  readonly startTlsAvailable: boolean;
  readonly allowPlaintextAuth: boolean;
  readonly appendLimit: number;
  /** The Authenticator can check SCRAM (auth/ supportsScram). */
  readonly scram?: boolean;
  /** RFC 9738 MESSAGELIMIT=n ([imap] message_limit, commands/message-limit.ts); absent: no limit. */
  readonly messageLimit?: number;
  /** RFC 9208 QUOTASET: SETQUOTA administrators are configured ([imap] quota_admins, commands/setquota.ts). */
  readonly quotaSet?: boolean;
}

/** Extensions that span several commands: advertised only when each of these modules declares them. */
const SPANNING: Readonly<Record<string, readonly string[]>> = {
  CONDSTORE: ["SELECT", "STORE", "FETCH", "SEARCH"],
  QRESYNC: ["SELECT", "STORE", "FETCH", "SEARCH", "ENABLE"],
  OBJECTID: ["SELECT", "STATUS", "CREATE", "FETCH", "SEARCH"],
  SAVEDATE: ["FETCH", "SEARCH"],
  PARTIAL: ["FETCH", "SEARCH"],
  // RFC 5267 §4: UPDATE needs CANCELUPDATE to be of use.
  "CONTEXT=SEARCH": ["SEARCH", "CANCELUPDATE"],
  "CONTEXT=SORT": ["SORT", "CANCELUPDATE"],
};

/** The atoms modules declare, with spanning ones kept only when complete. */
export function moduleCapabilities(table: CommandTable): string[] {
  const declared = new Set<string>();
  for (const module of table.modules) for (const capability of module.capabilities ?? []) declared.add(capability);
  for (const [capability, commands] of Object.entries(SPANNING)) {
    const complete = commands.every((name) => table.find(name, false)?.capabilities?.includes(capability) === true);
    if (!complete) declared.delete(capability);
  }
  // QRESYNC implies CONDSTORE (RFC 7162 §3.2.3).
  if (!declared.has("CONDSTORE")) declared.delete("QRESYNC");
  return [...declared];
}

export function capabilityList(state: CapabilityState, table: CommandTable): string[] {
  const atoms = ["IMAP4rev1", "IMAP4rev2"];
  if (!state.authenticated) {
    if (state.startTlsAvailable && !state.tls) atoms.push("STARTTLS");
    const link = { tls: state.tls, allowPlaintextWithoutTls: state.allowPlaintextAuth, scram: state.scram === true };
    const mechanisms = advertisedMechanisms(link);
    // RFC 9051 §6.2.3 / RFC 2595 §3.2: LOGIN is refused without TLS, and says so (SCRAM may
    // still be offered: it sends no password).
    if (!mechanisms.includes("PLAIN")) atoms.push("LOGINDISABLED");
    for (const name of mechanisms) atoms.push(`AUTH=${name}`);
    atoms.push("SASL-IR");
  }
  atoms.push("LITERAL+", `APPENDLIMIT=${state.appendLimit}`, ...moduleCapabilities(table));
  if (state.messageLimit !== undefined) atoms.push(`MESSAGELIMIT=${state.messageLimit}`);
  if (state.quotaSet === true) atoms.push("QUOTASET");
  return atoms;
}
