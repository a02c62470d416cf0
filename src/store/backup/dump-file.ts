// The database entry of a PostgreSQL backup (db/postgresql.jsonl, written by
// store/postgresql/backup.ts): a header line, then per table a line naming it and its columns and
// one line per row (row_to_json). Read here without the driver, so `mailroom backup verify` and
// the SQLite side never load pg.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { BackupError } from "./format.js";

export const DUMP_FORMAT = "mailroom-postgresql-dump";
/** A dump line longer than this is refused when read (a row is a few KiB; search text at most a few MiB). */
const MAX_DUMP_LINE = 64 * 1024 * 1024;

/** One line of a dump file. */
export type DumpLine = { format: string; schemaVersion: number; tables: string[] } | { table: string; columns: string[] } | { row: Record<string, unknown> };

export async function* dumpLines(path: string): AsyncGenerator<DumpLine> {
  const input = createReadStream(path, { encoding: "utf8" });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let number = 0;
  try {
    for await (const text of lines) {
      number++;
      if (text.length > MAX_DUMP_LINE) throw new BackupError(`the database dump's line ${number} is too long`);
      if (text === "") continue;
      try {
        yield JSON.parse(text) as DumpLine;
      } catch (error) {
        if (error instanceof SyntaxError) throw new BackupError(`the database dump's line ${number} is not JSON`);
        throw error;
      }
    }
  } finally {
    lines.close();
    input.destroy();
  }
}

/** The dump's header: its format and schema version (checked against the archive header by the caller). */
export async function readDumpHeader(path: string): Promise<{ schemaVersion: number; tables: string[] }> {
  for await (const line of dumpLines(path)) {
    if (!("format" in line) || line.format !== DUMP_FORMAT || !Number.isSafeInteger(line.schemaVersion) || !Array.isArray(line.tables)) break;
    return { schemaVersion: line.schemaVersion, tables: line.tables };
  }
  throw new BackupError(`the database entry is not a ${DUMP_FORMAT} file`);
}

/** The message files the dump's blobs table refers to, ascending, as the manifest lists them. */
export async function* dumpBlobs(path: string): AsyncGenerator<{ id: string; size: number }> {
  let table: string | null = null;
  for await (const line of dumpLines(path)) {
    if ("table" in line) table = line.table;
    else if ("row" in line && table === "blobs") yield { id: String(line.row["id"]), size: Number(line.row["size"]) };
  }
}

