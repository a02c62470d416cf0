// Deletion marks and the session's small verbs (RFC 1939 §5, §6): DELE only marks, RSET unmarks,
// NOOP does nothing but answer, and QUIT ends the session (committing in TRANSACTION: UPDATE).
import { ok } from "../protocol/index.js";
import type { Pop3CommandSpec } from "./context.js";
import { liveEntry } from "./listing.js";

export const dele: Pop3CommandSpec<"DELE"> = {
  states: ["transaction"],
  async run(context, command) {
    const entry = liveEntry(context, command.message);
    // RFC 1939 §5: marked only; the store is changed at QUIT (UPDATE state), never before.
    entry.deleted = true;
    return context.reply(ok(`message ${entry.number} deleted`));
  },
};

export const rset: Pop3CommandSpec<"RSET"> = {
  states: ["transaction"],
  async run(context) {
    context.maildrop.unmarkAll();
    return context.reply(ok(`maildrop has ${context.maildrop.count} messages`));
  },
};

export const noop: Pop3CommandSpec<"NOOP"> = {
  states: ["transaction"],
  run: (context) => context.reply(ok("")),
};

export const quit: Pop3CommandSpec<"QUIT"> = {
  states: ["authorization", "transaction"],
  run: (context) => context.quit(),
};
