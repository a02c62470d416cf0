// `mailroom export` and `mailroom migrate`: thin adapters over the transfer operations. The export
// directory is made absolute here because a running server, not this process, writes it. The
// source's password is never an argument (it would show in `ps`): read from --password-file, or
// from standard input (prompted without echo on a terminal), then sent to the operation.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { AdminError, type AdminOperations } from "../operations/index.js";
import { readPassword, type PasswordSource } from "./password-input.js";
import { progressPrinter } from "./store-commands.js";

type WithAdmin = (action: (ops: AdminOperations) => Promise<void>) => Promise<void>;

/** A password file: its first line (a trailing newline is not part of the password). */
async function passwordFromFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new AdminError("not-found", `cannot read --password-file ${path}: ${(error as { code?: string }).code ?? String(error)}`);
  }
  return text.split(/\r?\n/)[0]!;
}

export function addTransferCommands(program: Command, withAdmin: WithAdmin, print: (line: string) => void, progressOut: NodeJS.WritableStream, passwords: PasswordSource): void {
  program
    .command("export")
    .description("write an account's mailboxes as mbox files or a Maildir++ tree, with flags, keywords and internal dates (mailroom import reads them back)")
    .requiredOption("--account <address>", "the user whose mail is written")
    .requiredOption("--format <format>", "mbox or maildir")
    .option("--mailbox <name>", "only this mailbox")
    .argument("<dir>", "a new or empty directory")
    .action((dir: string, options: { account: string; format: string; mailbox?: string }) =>
      withAdmin(async (ops) => {
        const progress = progressPrinter(progressOut, { messages: "messages written" }, "written");
        const result = await ops.exportMessages({ account: options.account, dir: resolve(dir), format: options.format, mailbox: options.mailbox ?? null, onProgress: (p) => progress.update(p) });
        progress.finish();
        result.lines.forEach(print);
      }),
    );
  program
    .command("migrate")
    .description("copy every folder of another IMAP server (or a POP3 maildrop) into an account, with flags, keywords and internal dates; running it again resumes and copies only what is new")
    .requiredOption("--account <address>", "the user the messages are for")
    .requiredOption("--from <url>", "imaps://user@host[:port], imap://... (STARTTLS), pop3s://... or pop3://... (STLS)")
    .option("--password-file <file>", "read the source's password from this file (default: standard input)")
    .option("--insecure-tls", "accept the source's certificate without checking it (a self-signed old server)")
    .action((options: { account: string; from: string; passwordFile?: string; insecureTls?: boolean }) =>
      withAdmin(async (ops) => {
        const password = options.passwordFile ? await passwordFromFile(options.passwordFile) : await readPassword(passwords, "Password on the source server: ");
        const progress = progressPrinter(progressOut, { messages: "messages copied" }, "copied");
        const result = await ops.migrate({ account: options.account, from: options.from, password, insecureTls: options.insecureTls === true, onProgress: (p) => progress.update(p) });
        progress.finish();
        result.lines.forEach(print);
      }),
    );
}
