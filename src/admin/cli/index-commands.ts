// `mailroom index check` and `mailroom index rebuild [--account A]`: thin adapters over
// admin/operations/search-index. Progress goes to stderr as `store check` draws it (a bar on a
// terminal, a line per finished phase otherwise); check exits 1 while the index has problems.
import type { Command } from "commander";
import type { SearchIndexProgress } from "../../store/index.js";
import { AdminError, type AdminOperations } from "../operations/index.js";
import { progressPrinter } from "./store-commands.js";

type WithAdmin = (action: (ops: AdminOperations) => Promise<void>) => Promise<void>;

const CHECK_PHASES: Record<SearchIndexProgress["phase"], string> = {
  blobs: "index entries against message files",
  orphans: "index rows have their blobs",
};
const REBUILD_PHASES: Record<SearchIndexProgress["phase"], string> = {
  blobs: "index entries rebuilt from message files",
  orphans: "index rows without a blob removed",
};

export function addIndexCommands(program: Command, withAdmin: WithAdmin, print: (line: string) => void, progressOut: NodeJS.WritableStream): void {
  const index = program.command("index").description("the full-text search index: check it, rebuild it from the message files");
  index
    .command("check")
    .description("report messages whose index entry is missing or differs from their file, and index rows without a message")
    .action(() =>
      withAdmin(async (ops) => {
        const progress = progressPrinter(progressOut, CHECK_PHASES, "checked");
        const result = await ops.checkIndex({ onProgress: (p) => progress.update(p) });
        progress.finish();
        result.lines.forEach(print);
        if (!result.clean) throw new AdminError("refused", `${result.report.remaining} problem(s) in the search index (mailroom index rebuild fixes them)`);
      }),
    );
  index
    .command("rebuild")
    .description("write the index entries again from the message files, a few messages per transaction")
    .option("--account <address>", "only the messages of this user (index rows without a message are then left)")
    .action((options: { account?: string }) =>
      withAdmin(async (ops) => {
        const progress = progressPrinter(progressOut, REBUILD_PHASES, "done");
        const result = await ops.rebuildIndex({ account: options.account, onProgress: (p) => progress.update(p) });
        progress.finish();
        result.lines.forEach(print);
      }),
    );
}
