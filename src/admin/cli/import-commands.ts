// `mailroom import --account A [--mailbox M] <path>`: a thin adapter over the import operation.
// The path is made absolute here because a running server, not this process, reads it. Progress
// goes to stderr as the other long commands draw it (a bar on a terminal, a final line otherwise).
import { resolve } from "node:path";
import type { Command } from "commander";
import type { AdminOperations } from "../operations/index.js";
import { progressPrinter } from "./store-commands.js";

type WithAdmin = (action: (ops: AdminOperations) => Promise<void>) => Promise<void>;

export function addImportCommands(program: Command, withAdmin: WithAdmin, print: (line: string) => void, progressOut: NodeJS.WritableStream): void {
  program
    .command("import")
    .description("copy an mbox file, a Maildir (with Maildir++ folders) or a folder of .eml files into an account; running it again adds nothing twice")
    .requiredOption("--account <address>", "the user the messages are for")
    .option("--mailbox <name>", "target mailbox for an mbox file or an .eml folder (default INBOX; a Maildir keeps its folders)")
    .argument("<path>", "mbox file, Maildir directory, or directory of .eml files")
    .action((path: string, options: { account: string; mailbox?: string }) =>
      withAdmin(async (ops) => {
        const progress = progressPrinter(progressOut, { messages: "messages read" }, "read");
        const result = await ops.importMessages({ account: options.account, path: resolve(path), mailbox: options.mailbox ?? null, onProgress: (p) => progress.update(p) });
        progress.finish();
        result.lines.forEach(print);
      }),
    );
}
