// `mailroom backup [--incremental-from B] <file>`, `mailroom backup verify <file>` and
// `mailroom restore <file>`: thin adapters (docs/architecture.md, "Backup and restore"). The backup
// runs where the store is open (inside a running server, through its control socket, or in this
// process under the owner lock); verify and restore need no server and read the archive here.
// Paths are made absolute here because a running server, not this process, writes the archive.
import { resolve } from "node:path";
import type { Command } from "commander";
import type { AdminOperations } from "../operations/index.js";
import { progressPrinter } from "./store-commands.js";

type WithAdmin = (action: (ops: AdminOperations) => Promise<void>) => Promise<void>;
type Progress = (progress: { phase: "messages"; done: number; total: number | null }) => void;

export interface BackupReaders {
  verify(request: { file: string; bases: string[] }, onProgress: Progress): Promise<string[]>;
  restore(request: { file: string; bases: string[] }, onProgress: Progress): Promise<string[]>;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function addBackupCommands(program: Command, withAdmin: WithAdmin, readers: BackupReaders | undefined, print: (line: string) => void, progressOut: NodeJS.WritableStream): void {
  const backup = program
    .command("backup")
    .description("write a consistent backup of the store (while the server runs) into one compressed archive with a manifest and checksums")
    .argument("<file>", "the archive to write (never overwritten); its manifest is written beside as <file>.manifest.jsonl")
    .option("--incremental-from <archive>", "a previous backup (archive or its .manifest.jsonl): archive only the message files it does not hold")
    .action((file: string, options: { incrementalFrom?: string }) =>
      withAdmin(async (ops) => {
        const progress = progressPrinter(progressOut, { database: "database pages copied", messages: "message files" }, "done");
        const result = await ops.backup({ file: resolve(file), incrementalFrom: options.incrementalFrom ? resolve(options.incrementalFrom) : null, onProgress: (p) => progress.update(p) });
        progress.finish();
        result.lines.forEach(print);
      }),
    );
  if (!readers) return;
  backup
    .command("verify")
    .description("read a backup through and check every checksum, the manifest, and that every message file the database refers to is in it or its base chain")
    .argument("<file>", "the archive")
    .option("--base <archive>", "a base archive of an incremental backup (repeatable; by default looked for beside the archive)", collect, [])
    .action(async (file: string, options: { base: string[] }) => {
      const progress = progressPrinter(progressOut, { messages: "message files read" }, "read");
      const lines = await readers.verify({ file: resolve(file), bases: options.base.map((b) => resolve(b)) }, (p) => progress.update(p));
      progress.finish();
      lines.forEach(print);
    });
  program
    .command("restore")
    .description("restore a backup into an empty data dir (--data-dir), or into the configured empty PostgreSQL database, checking every checksum")
    .argument("<file>", "the archive (an incremental one needs its bases: --base, or beside it)")
    .option("--base <archive>", "a base archive of an incremental backup (repeatable; by default looked for beside the archive)", collect, [])
    .action(async (file: string, options: { base: string[] }) => {
      const progress = progressPrinter(progressOut, { messages: "message files restored" }, "restored");
      const lines = await readers.restore({ file: resolve(file), bases: options.base.map((b) => resolve(b)) }, (p) => progress.update(p));
      progress.finish();
      lines.forEach(print);
    });
}
