// Value kinds of the configuration file: how one TOML value becomes a typed setting, and how a
// setting is written back as a TOML literal (for the rendered default file). A failed parse throws
// a ValueProblem whose text is the "expected …, got …" half of a one-line config error; the
// loader prefixes the key.
import { isIP } from "node:net";

export class ValueProblem extends Error {
  override readonly name = "ValueProblem";
}

export interface ValueKind<T> {
  /** What the key accepts, in words: used in problems and in the configuration reference. */
  readonly expected: string;
  parse(raw: unknown): T;
  render(value: T): string;
}

/** A short, bounded description of what the file held, for "got …". */
export function describeRaw(raw: unknown): string {
  if (typeof raw === "string") {
    const shown = raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
    return JSON.stringify(shown);
  }
  if (typeof raw === "number" || typeof raw === "boolean" || typeof raw === "bigint") return String(raw);
  if (Array.isArray(raw)) return "an array";
  if (raw instanceof Date) return "a date";
  if (raw !== null && typeof raw === "object") return "a table";
  return String(raw);
}

function problem(expected: string, raw: unknown): ValueProblem {
  return new ValueProblem(`expected ${expected}, got ${describeRaw(raw)}`);
}

const SIZE_UNITS: readonly [string, number][] = [
  ["G", 1024 ** 3],
  ["M", 1024 ** 2],
  ["K", 1024],
];

/** Sizes: a number of bytes or "10K" / "25M" / "1G" (binary multiples; "KB", "KiB" also read). */
export function size(bounds: { min?: number; max?: number } = {}): ValueKind<number> {
  const min = bounds.min ?? 0;
  const max = bounds.max ?? Number.MAX_SAFE_INTEGER;
  const expected = `a size like "50M" or a number of bytes`;
  return {
    expected,
    parse(raw) {
      let bytes: number;
      if (typeof raw === "number") {
        if (!Number.isInteger(raw)) throw problem(expected, raw);
        bytes = raw;
      } else if (typeof raw === "string") {
        const match = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$/i.exec(raw);
        if (!match) throw problem(expected, raw);
        const unit = (match[2] ?? "").toUpperCase();
        const multiplier = SIZE_UNITS.find(([name]) => name === unit)?.[1] ?? 1;
        bytes = Math.round(Number(match[1]) * multiplier);
      } else {
        throw problem(expected, raw);
      }
      if (bytes < min || bytes > max) {
        throw new ValueProblem(`expected a size from ${renderSize(min)} to ${renderSize(max)}, got ${describeRaw(raw)}`);
      }
      return bytes;
    },
    render(value) {
      const rendered = renderSize(value);
      return /^\d+$/.test(rendered) ? rendered : JSON.stringify(rendered);
    },
  };
}

function renderSize(bytes: number): string {
  for (const [name, multiplier] of SIZE_UNITS) {
    if (bytes >= multiplier && bytes % multiplier === 0) return `${bytes / multiplier}${name}`;
  }
  return String(bytes);
}

const DURATION_UNITS: readonly [string, number][] = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1000],
  ["ms", 1],
];

/** Durations, returned in milliseconds: a number of seconds or "500ms" / "30s" / "5m" / "1h" / "1d". */
export function duration(bounds: { minMs?: number; maxMs?: number } = {}): ValueKind<number> {
  const minMs = bounds.minMs ?? 0;
  const maxMs = bounds.maxMs ?? 7 * 86_400_000;
  const expected = `a duration like "30s", "5m" or a number of seconds`;
  return {
    expected,
    parse(raw) {
      let ms: number;
      if (typeof raw === "number") {
        if (!Number.isFinite(raw)) throw problem(expected, raw);
        ms = Math.round(raw * 1000);
      } else if (typeof raw === "string") {
        const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(raw);
        if (!match) throw problem(expected, raw);
        const unit = (match[2] ?? "s").toLowerCase();
        const multiplier = DURATION_UNITS.find(([name]) => name === unit)?.[1] ?? 1000;
        ms = Math.round(Number(match[1]) * multiplier);
      } else {
        throw problem(expected, raw);
      }
      if (ms < minMs || ms > maxMs) {
        throw new ValueProblem(`expected a duration from ${renderDuration(minMs)} to ${renderDuration(maxMs)}, got ${describeRaw(raw)}`);
      }
      return ms;
    },
    render: (value) => JSON.stringify(renderDuration(value)),
  };
}

function renderDuration(ms: number): string {
  for (const [name, multiplier] of DURATION_UNITS) {
    if (ms >= multiplier && ms % multiplier === 0) return `${ms / multiplier}${name}`;
  }
  return `${ms}ms`;
}

export function integer(bounds: { min: number; max: number }): ValueKind<number> {
  const expected = `an integer from ${bounds.min} to ${bounds.max}`;
  return {
    expected,
    parse(raw) {
      if (typeof raw !== "number" || !Number.isInteger(raw) || raw < bounds.min || raw > bounds.max) throw problem(expected, raw);
      return raw;
    },
    render: (value) => String(value),
  };
}

/** A number with a fraction allowed (scores, weights), within bounds. */
export function decimal(bounds: { min: number; max: number }): ValueKind<number> {
  const expected = `a number from ${bounds.min} to ${bounds.max}`;
  return {
    expected,
    parse(raw) {
      if (typeof raw !== "number" || !Number.isFinite(raw) || raw < bounds.min || raw > bounds.max) throw problem(expected, raw);
      return raw;
    },
    render: (value) => (Number.isInteger(value) ? value.toFixed(1) : String(value)),
  };
}

export function boolean(): ValueKind<boolean> {
  const expected = "true or false";
  return {
    expected,
    parse(raw) {
      if (typeof raw !== "boolean") throw problem(expected, raw);
      return raw;
    },
    render: (value) => String(value),
  };
}

export function oneOf<const V extends string>(values: readonly V[]): ValueKind<V> {
  const expected = `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`;
  return {
    expected,
    parse(raw) {
      const found = values.find((v) => v === raw);
      if (found === undefined) throw problem(expected, raw);
      return found;
    },
    render: (value) => JSON.stringify(value),
  };
}

/** A non-empty string without control characters (host names, addresses, paths). */
export function text(): ValueKind<string> {
  const expected = "a non-empty string";
  return {
    expected,
    parse(raw) {
      if (typeof raw !== "string" || raw.trim() === "" || /[\x00-\x1f\x7f]/.test(raw)) throw problem(expected, raw);
      return raw;
    },
    render: (value) => JSON.stringify(value),
  };
}

/** A setting that is absent unless given: TOML has no null, so the default is "key not written". */
export function optional<T>(kind: ValueKind<T>): ValueKind<T | null> {
  return {
    expected: kind.expected,
    parse: (raw) => kind.parse(raw),
    render: (value) => (value === null ? '""' : kind.render(value)),
  };
}

/** A TOML array of values of one kind; a problem names the first bad element by its index. */
export function listOf<T>(kind: ValueKind<T>, bounds: { min?: number; max?: number } = {}): ValueKind<T[]> {
  const min = bounds.min ?? 0;
  const max = bounds.max ?? 100;
  const expected = `an array of ${min > 0 ? `${min} to ${max}` : `at most ${max}`} values, each ${kind.expected}`;
  return {
    expected,
    parse(raw) {
      if (!Array.isArray(raw) || raw.length < min || raw.length > max) throw problem(expected, raw);
      return raw.map((item: unknown, index) => {
        try {
          return kind.parse(item);
        } catch (error) {
          if (error instanceof ValueProblem) throw new ValueProblem(`[${index}]: ${error.message}`);
          throw error;
        }
      });
    },
    render: (value) => `[${value.map((item) => kind.render(item)).join(", ")}]`,
  };
}

/**
 * An IP network in CIDR notation ("192.0.2.0/24", "2001:db8::/32"), or one address (a /32 or
 * /128). Validated here so a typo stops the start instead of silently trusting nothing (or
 * everything); kept as text, since net/ turns the list into a matcher.
 */
export function cidr(): ValueKind<string> {
  const expected = 'an IP network like "192.0.2.0/24" or "2001:db8::/32", or one IP address';
  return {
    expected,
    parse(raw) {
      if (typeof raw !== "string") throw problem(expected, raw);
      const match = /^([^/\s]+)(?:\/(\d{1,3}))?$/.exec(raw.trim());
      const family = match ? isIP(match[1]!) : 0;
      if (!match || family === 0) throw problem(expected, raw);
      const maxPrefix = family === 4 ? 32 : 128;
      const prefix = match[2] === undefined ? maxPrefix : Number(match[2]);
      if (prefix > maxPrefix) throw problem(expected, raw);
      return `${match[1]!.toLowerCase()}/${prefix}`;
    },
    render: (value) => JSON.stringify(value),
  };
}

/** "host" or "host:port" ("[v6]:port" for IPv6 literals), the port defaulting to `defaultPort`. */
export interface HostPort {
  host: string;
  port: number;
}

export function hostPort(defaultPort: number): ValueKind<HostPort> {
  const expected = `"host" or "host:port"`;
  return {
    expected,
    parse(raw) {
      if (typeof raw !== "string") throw problem(expected, raw);
      const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(raw.trim());
      const port = match?.[3] === undefined ? defaultPort : Number(match[3]);
      const host = match?.[1] ?? match?.[2];
      if (!match || host === undefined || port < 1 || port > 65_535) throw problem(expected, raw);
      return { host, port };
    },
    render: (value) => JSON.stringify(value.host.includes(":") ? `[${value.host}]:${value.port}` : `${value.host}:${value.port}`),
  };
}

/** A TOML table from names to values of one kind, e.g. routes = { "example.net" = "relay:2525" }. */
export function tableOf<T>(kind: ValueKind<T>): ValueKind<Record<string, T>> {
  const expected = `a table of names to ${kind.expected}`;
  return {
    expected,
    parse(raw) {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw) || raw instanceof Date) throw problem(expected, raw);
      const out: Record<string, T> = {};
      for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
        try {
          out[name.toLowerCase()] = kind.parse(value);
        } catch (error) {
          if (error instanceof ValueProblem) throw new ValueProblem(`${JSON.stringify(name)}: ${error.message}`);
          throw error;
        }
      }
      return out;
    },
    render: (value) => `{ ${Object.entries(value).map(([name, item]) => `${JSON.stringify(name)} = ${kind.render(item)}`).join(", ")} }`.replace("{  }", "{}"),
  };
}

/** What a computed default may depend on: the environment of the loading process. */
export interface DefaultContext {
  cwd: string;
  hostname: string;
}

/** One key of a section: its kind, its default, and the line that documents it. */
export interface KeySpec<T, S> {
  kind: ValueKind<T>;
  /** The default; `earlier` holds the keys of the same section listed before this one. */
  defaultValue: (context: DefaultContext, earlier: Partial<S>) => T;
  /** Set when the default is computed: how it reads in the reference ("this machine's host name"). */
  computedDefault?: string;
  description: string;
}

/** Every field of a section type has a key spec, so a setting cannot lack a default or a description. */
export type SectionSpec<S> = { [K in keyof S]: KeySpec<S[K], S> };

export function key<T, S>(kind: ValueKind<T>, fixedDefault: T, description: string): KeySpec<T, S> {
  return { kind, defaultValue: () => fixedDefault, description };
}

export function computedKey<T, S>(
  kind: ValueKind<T>,
  defaultValue: (context: DefaultContext, earlier: Partial<S>) => T,
  computedDefault: string,
  description: string,
): KeySpec<T, S> {
  return { kind, defaultValue, computedDefault, description };
}
