// `mailroom store check [--repair]`: a thin adapter over admin/operations/store-check. Progress
// goes to stderr: a bar redrawn in place on a terminal, one plain line per finished phase
// otherwise (logs, CI). The exit code is 1 while problems remain.
import type { Command } from "commander";
import type { StoreCheckProgress } from "../../store/index.js";
import { AdminError, type AdminOperations } from "../operations/index.js";

type WithAdmin = (action: (ops: AdminOperations) => Promise<void>) => Promise<void>;

const PHASE_NAMES: Record<StoreCheckProgress["phase"], string> = {
  database: "database integrity",
  rows: "rows have their files",
  files: "files have their rows",
  usage: "usage counters",
  repair: "repairing",
};
const BAR_WIDTH = 30;

/**
 * Draws progress on `out`: in place on a terminal, else a line when a phase is done. `names` words
 * the phases (store check's by default; index-commands.ts has its own) and `verb` ends each line.
 */
export function progressPrinter<P extends string = StoreCheckProgress["phase"]>(
  out: NodeJS.WritableStream & { isTTY?: boolean },
  names: Record<P, string> = PHASE_NAMES as Record<P, string>,
  verb = "checked",
): { update(progress: { phase: P; done: number; total: number | null }): void; finish(): void } {
  let drawn = false;
  let lastPhase: string | null = null;
  return {
    update(progress) {
      const name = names[progress.phase];
      const complete = progress.total !== null && progress.done >= progress.total;
      if (out.isTTY) {
        const fraction = progress.total ? Math.min(1, progress.done / progress.total) : 0;
        const filled = Math.round(fraction * BAR_WIDTH);
        const counts = progress.total === null ? `${progress.done}` : `${progress.done}/${progress.total}`;
        out.write(`\r\x1b[2K[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${name} ${counts}`);
        drawn = true;
        if (complete) {
          out.write("\n");
          drawn = false;
        }
      } else if (complete && lastPhase !== `${progress.phase} done`) {
        out.write(`${name}: ${progress.done}/${progress.total} ${verb}\n`);
        lastPhase = `${progress.phase} done`;
      }
    },
    finish() {
      if (drawn) out.write("\n");
    },
  };
}

export function addStoreCommands(program: Command, withAdmin: WithAdmin, print: (line: string) => void, progressOut: NodeJS.WritableStream): void {
  const store = program.command("store").description("the mail store: consistency check and repair");
  store
    .command("check")
    .description("verify that every message has its file (of the right size) and every file its message, SQLite integrity and WAL, usage counters")
    .option("--repair", "remove files without a message, delete unreferenced blob rows, recompute usage counters")
    .action((options: { repair?: boolean }) =>
      withAdmin(async (ops) => {
        const progress = progressPrinter(progressOut);
        const result = await ops.checkStore({ repair: options.repair === true, onProgress: (p) => progress.update(p) });
        progress.finish();
        result.lines.forEach(print);
        if (!result.clean) throw new AdminError("refused", `${result.report.remaining} problem(s) remain in the store`);
      }),
    );
}
