// The control protocol between an admin command and the running server (docs/architecture.md,
// "One owner per data dir"): JSON lines over the owner-only Unix socket `<data_dir>/mailroom.sock`.
//
//   request   {"v":1,"id":7,"method":"addUser","args":[{"address":"a@example.org","password":"..."}]}
//   response  {"v":1,"id":7,"ok":true,"result":{...}}
//             {"v":1,"id":7,"ok":false,"error":{"kind":"not-found","message":"no such user: a@example.org"}}
//
// One request at a time per connection, answered in order. Dates travel as {"$date":"<ISO>"} so a
// result reads the same on both sides. A request line is at most MAX_REQUEST_BYTES (a password is
// at most 1 KiB; nothing an operator types comes near), a response at most MAX_RESPONSE_BYTES (a
// listing of every account). A peer speaking another version gets an error, never a guess.
import type { AdminErrorKind } from "../operations/index.js";

export const CONTROL_PROTOCOL_VERSION = 1;
export const CONTROL_SOCKET_FILE = "mailroom.sock";
export const MAX_REQUEST_BYTES = 1024 * 1024;
export const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/** Failures that are not the operator's: the protocol itself, or the server failing. */
export type ControlErrorKind = AdminErrorKind | "protocol" | "internal";

export interface ControlRequest {
  v: number;
  id: number;
  method: string;
  args: unknown[];
}

export type ControlResponse =
  | { v: number; id: number; ok: true; result: unknown }
  | { v: number; id: number; ok: false; error: { kind: ControlErrorKind; message: string } };

/**
 * Sent before the answer by a long request (store check, index check/rebuild) so the command can
 * draw its progress: {"v":1,"id":7,"progress":{"phase":"blobs","done":40,"total":100}}. It also
 * keeps the connection from looking idle (control-server.ts closes idle ones).
 */
export interface ControlProgress {
  v: number;
  id: number;
  progress: unknown;
}

/** Thrown for a malformed line; the reader answers (or reports) it and closes. */
export class ControlProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ControlProtocolError";
  }
}

export function encodeLine(message: ControlRequest | ControlResponse | ControlProgress): string {
  return JSON.stringify(message, function (this: Record<string, unknown>, key, value: unknown) {
    // `this[key]` is the value before Date.prototype.toJSON turned it into a string.
    const original = key === "" ? value : this[key];
    return original instanceof Date ? { $date: original.toISOString() } : value;
  }) + "\n";
}

function revive(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const date = (value as { $date?: unknown }).$date;
    if (keys.length === 1 && typeof date === "string") return new Date(date);
  }
  return value;
}

export function decodeRequest(line: string): ControlRequest {
  const parsed = parseObject(line);
  if (parsed.v !== CONTROL_PROTOCOL_VERSION) {
    throw new ControlProtocolError(`control protocol version ${JSON.stringify(parsed.v)} is not spoken here (this server speaks ${CONTROL_PROTOCOL_VERSION}); use the mailroom command of the same version as the server`);
  }
  if (typeof parsed.id !== "number" || !Number.isSafeInteger(parsed.id)) throw new ControlProtocolError("request id must be an integer");
  if (typeof parsed.method !== "string" || parsed.method.length > 100) throw new ControlProtocolError("request method must be a short string");
  if (!Array.isArray(parsed.args)) throw new ControlProtocolError("request args must be an array");
  return { v: parsed.v, id: parsed.id, method: parsed.method, args: parsed.args };
}

export function decodeResponse(line: string): ControlResponse | ControlProgress {
  const parsed = parseObject(line);
  if (parsed.v !== CONTROL_PROTOCOL_VERSION) throw new ControlProtocolError(`the server answered in control protocol version ${JSON.stringify(parsed.v)}, this command speaks ${CONTROL_PROTOCOL_VERSION}`);
  if (typeof parsed.id !== "number") throw new ControlProtocolError("response without an id");
  if (parsed.ok === undefined && "progress" in parsed) return { v: parsed.v, id: parsed.id, progress: parsed.progress };
  if (parsed.ok === true) return { v: parsed.v, id: parsed.id, ok: true, result: parsed.result };
  const error = parsed.error as { kind?: unknown; message?: unknown } | undefined;
  if (parsed.ok !== false || typeof error?.kind !== "string" || typeof error.message !== "string") throw new ControlProtocolError("malformed response");
  return { v: parsed.v, id: parsed.id, ok: false, error: { kind: error.kind as ControlErrorKind, message: error.message } };
}

function parseObject(line: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line, revive);
  } catch {
    throw new ControlProtocolError("not a JSON line");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new ControlProtocolError("not a JSON object");
  return parsed as Record<string, unknown>;
}

/**
 * Splits a byte stream into lines of at most `maxBytes` (newline excluded). Feed chunks; each
 * complete line is returned; a line over the limit throws ControlProtocolError.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let newline = chunk.indexOf(10, start); newline !== -1; newline = chunk.indexOf(10, start)) {
      const part = chunk.subarray(start, newline);
      this.check(part.length);
      lines.push(Buffer.concat([...this.pending, part]).toString("utf8"));
      this.pending = [];
      this.pendingBytes = 0;
      start = newline + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.check(rest.length);
      this.pending.push(rest);
      this.pendingBytes += rest.length;
    }
    return lines;
  }

  private check(more: number): void {
    if (this.pendingBytes + more > this.maxBytes) throw new ControlProtocolError(`line longer than ${this.maxBytes} bytes`);
  }
}
