// The PostgreSQL connection layer: one pg.Pool per store, the password from an environment
// variable or a file (never from the URL in a config file, never logged), the mapping of driver
// and server failures to StoreErrors, and transactions that are retried when PostgreSQL chose
// them as the victim of a deadlock or a serialization conflict (docs/architecture.md,
// "PostgreSQL backend").
import { readFileSync } from "node:fs";
import pg from "pg";
import type { Logger } from "../../observability/log.js";
import { StoreError } from "../errors.js";

export interface PostgresConnectionOptions {
  /** postgres://user@host:port/database (a password in the URL works but belongs in passwordEnv/passwordFile). */
  url: string;
  /** Name of an environment variable holding the password. */
  passwordEnv?: string | null;
  /** A file whose first line is the password (e.g. a systemd credential or a Kubernetes secret). */
  passwordFile?: string | null;
  /** Connections in the pool (default 10). */
  maxConnections?: number;
  /** How long a new connection may take before the operation fails UNAVAILABLE (ms, default 5000). */
  connectTimeoutMs?: number;
  /** Server-side limit on one statement (ms, default 60000): a stuck query fails instead of holding a session forever. */
  statementTimeoutMs?: number;
}

/** The password from passwordEnv or passwordFile; undefined when neither is set. */
export function resolvePassword(options: Pick<PostgresConnectionOptions, "passwordEnv" | "passwordFile">): string | undefined {
  if (options.passwordEnv) {
    const value = process.env[options.passwordEnv];
    if (value === undefined) throw new StoreError("UNAVAILABLE", `store.password_env names ${options.passwordEnv}, which is not set`);
    return value;
  }
  if (options.passwordFile) {
    let text: string;
    try {
      text = readFileSync(options.passwordFile, "utf8");
    } catch (err) {
      throw new StoreError("UNAVAILABLE", `cannot read store.password_file ${options.passwordFile}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
    }
    return text.split(/\r?\n/)[0] ?? "";
  }
  return undefined;
}

function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

/** The URL with any password replaced, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable url)";
  }
}

// int8 (bigint) columns come back as JavaScript numbers: every bigint the store keeps (ids, UIDs,
// modseqs, sizes, epoch milliseconds) stays far below 2^53. Per pool, not pg's global registry.
const INT8_OID = 20;
const INT8_ARRAY_OID = 1016;
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID) return (value: string) => Number(value);
    if (oid === INT8_ARRAY_OID) {
      const parseArray = pg.types.getTypeParser(oid as Parameters<typeof pg.types.getTypeParser>[0], "text") as (value: string) => string[];
      return (value: string) => parseArray(value).map(Number);
    }
    return pg.types.getTypeParser(oid as Parameters<typeof pg.types.getTypeParser>[0], format ?? "text");
  },
} as unknown as pg.CustomTypesConfig;

/** What every connection of a store (pooled, or the change feed's listener) is opened with. */
export function connectionConfig(options: PostgresConnectionOptions): pg.ClientConfig {
  if (typeof options.url !== "string" || !/^postgres(ql)?:\/\//.test(options.url)) {
    throw new StoreError("INVALID", "store.url must be a postgres:// or postgresql:// URL");
  }
  const password = resolvePassword(options);
  return {
    // pg lets the connection string's fields override separate ones, so the password goes into it.
    connectionString: password === undefined ? options.url : withPassword(options.url, password),
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    // Acknowledged means durable: every commit waits for its WAL flush (and for synchronous
    // replicas, if the server is configured for them), whatever the server's default says.
    options: `-c synchronous_commit=on -c statement_timeout=${options.statementTimeoutMs ?? 60_000}`,
    application_name: "mailroom",
    types,
  };
}

export function createPool(options: PostgresConnectionOptions, log: Logger): pg.Pool {
  const pool = new pg.Pool({ ...connectionConfig(options), max: options.maxConnections ?? 10, idleTimeoutMillis: 30_000 });
  // An idle connection the server dropped (restart, failover) must not crash the process; the
  // pool discards it and the next operation opens a fresh one.
  pool.on("error", (err) => log.warn("store.postgres_idle_connection_lost", { error: (err as Error).message, url: redactUrl(options.url) }));
  return pool;
}

/** SQLSTATE classes that mean "the database is not reachable or not serving now". */
const UNAVAILABLE_CLASSES = ["08", "57", "53", "58", "XX", "55", "25", "28", "3D"];
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ECONNABORTED"]);

/** Deadlock or serialization failure: the transaction may simply run again. */
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === "40001" || code === "40P01";
}

/**
 * Failures of the database (unreachable, restarting, out of connections, disk full, timeouts) are
 * UNAVAILABLE or NOSPACE: the protocols answer 4xx / NO [UNAVAILABLE] and the client retries. A
 * unique-key clash lost to a concurrent writer is ALREADYEXISTS. Anything else is a bug and passes
 * through unchanged to the caller's SERVERBUG path.
 */
export function toStoreError(err: unknown): unknown {
  if (err instanceof StoreError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === "string" ? e.code : null;
  const message = typeof e?.message === "string" ? e.message : String(err);
  if (code === "23505") return new StoreError("ALREADYEXISTS", message, { cause: err });
  if (code === "53100") return new StoreError("NOSPACE", `database error: ${message}`, { cause: err });
  if (code === "57014") return new StoreError("UNAVAILABLE", `database statement timed out: ${message}`, { cause: err });
  if (code !== null && (NETWORK_CODES.has(code) || isRetryable(err) || UNAVAILABLE_CLASSES.includes(code.slice(0, 2)))) {
    return new StoreError("UNAVAILABLE", `database unavailable: ${message}`, { cause: err });
  }
  // The driver's own connection failures carry no code: a terminated connection, a connect timeout.
  if (code === null && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connect ECONNREFUSED|Connection ended|not queryable|^SASL:/i.test(message)) {
    return new StoreError("UNAVAILABLE", `database unavailable: ${message}`, { cause: err });
  }
  return err;
}

export type Sql = Pick<pg.PoolClient, "query">;

/** Runs `sql` and returns its rows. */
export async function rows<T extends pg.QueryResultRow>(db: Sql, sql: string, params: unknown[] = []): Promise<T[]> {
  return (await db.query<T>(sql, params)).rows;
}

export async function one<T extends pg.QueryResultRow>(db: Sql, sql: string, params: unknown[] = []): Promise<T | undefined> {
  return (await db.query<T>(sql, params)).rows[0];
}

const MAX_ATTEMPTS = 5;

/**
 * Runs `body` in one transaction on one pooled connection. A deadlock or serialization failure
 * (PostgreSQL aborts one of the transactions involved) runs the body again from the start, so
 * `body` must keep its side effects inside the transaction until it resolves.
 */
export interface TransactionOptions {
  isolation?: "repeatable read";
  readOnly?: boolean;
  /**
   * COMMIT without waiting for the WAL flush. Only for writes no client is told about on their
   * own (staged bytes): the transaction that makes them matter (a delivery, an enqueue) commits
   * later with synchronous_commit on, and its flush covers every earlier WAL record, theirs too.
   */
  asyncCommit?: boolean;
  /** Called right before COMMIT is sent, with every lock of the transaction held. */
  beforeCommit?(): void;
  /** Called when that COMMIT failed (beforeCommit was called, nothing was committed). */
  commitFailed?(): void;
}

export async function transaction<T>(pool: pg.Pool, body: (client: pg.PoolClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken = false;
    // pg emits 'error' on a checked-out client whose connection dies (a database restart), and the
    // pool listens only while the client is idle: without this the process would crash on it. The
    // statement in flight fails by itself; the dead connection is dropped at release.
    const lost = (): void => {
      broken = true;
    };
    client.on("error", lost);
    try {
      await client.query(`BEGIN${options.isolation ? ` ISOLATION LEVEL ${options.isolation.toUpperCase()}` : ""}${options.readOnly ? " READ ONLY" : ""}`);
      try {
        if (options.asyncCommit) await client.query("SET LOCAL synchronous_commit TO off");
        const result = await body(client);
        options.beforeCommit?.();
        try {
          await client.query("COMMIT");
        } catch (err) {
          options.commitFailed?.();
          throw err;
        }
        return result;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {
          broken = true;
        });
        throw err;
      }
    } catch (err) {
      if (isRetryable(err) && attempt < MAX_ATTEMPTS) {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
        continue;
      }
      throw err;
    } finally {
      // A connection that could not even roll back is dead: it is dropped, not given back.
      client.removeListener("error", lost);
      client.release(broken ? true : undefined);
    }
  }
}
