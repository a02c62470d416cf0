// Structured logging: one JSON object per line, one line per event. Secrets are redacted at the
// source: any field whose name looks like a credential is replaced before it is serialised, so a
// careless `log.info("auth", { password })` still writes nothing secret.

export type LogLevel = "debug" | "info" | "warn" | "error";
const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** A logger whose every line also carries these fields (e.g. the connection id). */
  child(fields: LogFields): Logger;
}

const SECRET_FIELD = /pass(word)?|secret|token|credential|authorization|^auth(data|response)?$|^key$|private/i;

/** Replaces credential-looking fields and turns errors into plain objects. */
export function redactFields(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    if (SECRET_FIELD.test(key)) out[key] = "[redacted]";
    else if (value instanceof Error) out[key] = { name: value.name, message: value.message, stack: value.stack };
    else if (value instanceof Date) out[key] = value.toISOString();
    else if (typeof value === "bigint") out[key] = value.toString();
    else out[key] = value;
  }
  return out;
}

export interface JsonLoggerOptions {
  level?: LogLevel;
  /** Where lines go; defaults to process.stderr. */
  write?: (line: string) => void;
  clock?: () => Date;
}

export function createJsonLogger(options: JsonLoggerOptions = {}, bound: LogFields = {}): Logger {
  const minimum = LEVEL_RANK[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const clock = options.clock ?? (() => new Date());
  const emit = (level: LogLevel, event: string, fields?: LogFields) => {
    if (LEVEL_RANK[level] < minimum) return;
    const record = { time: clock().toISOString(), level, event, ...redactFields(bound), ...(fields ? redactFields(fields) : {}) };
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      line = JSON.stringify({ time: record.time, level, event, note: "unserialisable fields dropped" });
    }
    write(line + "\n");
  };
  return {
    debug: (e, f) => emit("debug", e, f),
    info: (e, f) => emit("info", e, f),
    warn: (e, f) => emit("warn", e, f),
    error: (e, f) => emit("error", e, f),
    child: (fields) => createJsonLogger(options, { ...bound, ...fields }),
  };
}

/** A logger that drops everything: for tests that do not look at logs. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

/** A logger that keeps records in memory, for tests that assert on what was logged. */
export function createMemoryLogger(): Logger & { records: (LogFields & { level: LogLevel; event: string })[] } {
  const records: (LogFields & { level: LogLevel; event: string })[] = [];
  const make = (bound: LogFields): Logger => {
    const emit = (level: LogLevel) => (event: string, fields?: LogFields) => {
      records.push({ ...redactFields(bound), ...(fields ? redactFields(fields) : {}), level, event });
    };
    return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error"), child: (f) => make({ ...bound, ...f }) };
  };
  return Object.assign(make({}), { records });
}
