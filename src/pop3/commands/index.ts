// The POP3 command table: every keyword of protocol/command.ts with its handler and the states it
// is valid in. Grouped by family (auth.ts, listing.ts, retrieve.ts, marks.ts, capa.ts).
import { apop, auth, pass, stls, user } from "./auth.js";
import { capa } from "./capa.js";
import type { Pop3CommandTable } from "./context.js";
import { list, stat, uidl } from "./listing.js";
import { dele, noop, quit, rset } from "./marks.js";
import { retr, top } from "./retrieve.js";

export const POP3_COMMANDS: Pop3CommandTable = {
  USER: user,
  PASS: pass,
  APOP: apop,
  AUTH: auth,
  STLS: stls,
  CAPA: capa,
  STAT: stat,
  LIST: list,
  UIDL: uidl,
  RETR: retr,
  TOP: top,
  DELE: dele,
  RSET: rset,
  NOOP: noop,
  QUIT: quit,
};

export { continueSasl } from "./auth.js";
export type { Pop3Context, Pop3State } from "./context.js";
