// Opening the SQLite file with the settings every durability promise of the store rests on,
// and a cache of prepared statements (better-sqlite3 compiles SQL once per statement object).
import Database from "better-sqlite3";
import { foldCase } from "../../mail/case-fold.js";
import { StoreError } from "../errors.js";
import { migrate } from "./schema.js";

export type SqliteDatabase = Database.Database;
export type Param = string | number | bigint | Buffer | null;

export function openDatabase(path: string, now: () => Date): SqliteDatabase {
  const db = new Database(path);
  try {
    // WAL: readers never block the writer. synchronous=FULL: a COMMIT returns only after the WAL
    // is fsynced, which is what "resolves once durable" means (NORMAL could lose the last
    // transactions on power loss).
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    // The fold SEARCH applies to its strings, for the migration that backfills the full-text index
    // (schema.ts, version 9); deterministic, so SQLite may use it anywhere.
    db.function("mailroom_fold", { deterministic: true }, (text: unknown) => (typeof text === "string" ? foldCase(text) : ""));
    migrate(db, now);
    return db;
  } catch (err) {
    db.close();
    throw err instanceof StoreError ? err : new StoreError("UNAVAILABLE", `cannot open database: ${(err as Error).message}`, { cause: err });
  }
}

/** Prepared statements by SQL text, so hot paths never recompile. */
export class Statements {
  private readonly cache = new Map<string, Database.Statement>();

  constructor(readonly db: SqliteDatabase) {}

  private prepare(sql: string): Database.Statement {
    let statement = this.cache.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.cache.set(sql, statement);
    }
    return statement;
  }

  run(sql: string, ...params: Param[]): Database.RunResult {
    return this.prepare(sql).run(...params);
  }

  get<T>(sql: string, ...params: Param[]): T | undefined {
    return this.prepare(sql).get(...params) as T | undefined;
  }

  all<T>(sql: string, ...params: Param[]): T[] {
    return this.prepare(sql).all(...params) as T[];
  }

  /**
   * The first column of every row, as plain values: no object per row, which is what makes a
   * million-row UID listing cheap (SELECT of a big mailbox, docs/architecture.md).
   */
  column<T>(sql: string, ...params: Param[]): T[] {
    const key = `pluck:${sql}`;
    let statement = this.cache.get(key);
    if (!statement) {
      statement = this.db.prepare(sql).pluck(true);
      this.cache.set(key, statement);
    }
    return statement.all(...params) as T[];
  }
}
