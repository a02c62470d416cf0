// The server's end of the control socket (docs/architecture.md, "One owner per data dir"): admin
// commands run while the server runs reach it here, and their operations run in this process,
// through the same admin/operations as in-process commands, against the one open store. The
// socket lives in the data dir with owner-only permissions; the protocol is admin/control/protocol.
//
// It listens as soon as the owner lock is taken, before the store is open, so a command started
// during start-up waits for the server instead of finding the data dir locked and nobody home.
// Requests are logged by method and outcome only: arguments carry passwords.
import { chmodSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { invokeAdminMethod } from "../admin/control/methods.js";
import { CONTROL_PROTOCOL_VERSION, ControlProtocolError, decodeRequest, encodeLine, LineSplitter, MAX_REQUEST_BYTES, type ControlErrorKind, type ControlResponse } from "../admin/control/protocol.js";
import { AdminError, type AdminOperations } from "../admin/operations/index.js";
import type { Logger } from "../observability/log.js";

/** A control connection with no request for this long is closed (a command is seconds long). */
const IDLE_TIMEOUT_MS = 10 * 60_000;
/** Admin commands are run by hand; more at once than this is a runaway script. */
const MAX_CONNECTIONS = 32;
/** Unix socket paths are at most 107 bytes on Linux (sun_path). */
const MAX_SOCKET_PATH_BYTES = 107;

export interface ControlServerOptions {
  socketPath: string;
  /** Resolves when the store is open and the operations can run; requests wait for it. */
  operations: Promise<AdminOperations>;
  /** What `mailroom status` prints: answered by the server itself, not an admin operation. */
  status: (reset: boolean) => Record<string, unknown>;
  log: Logger;
}

export interface ControlServer {
  readonly socketPath: string;
  /** Stops accepting, lets requests in progress finish, removes the socket file. */
  close(): Promise<void>;
}

export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const { socketPath, log } = options;
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new Error(`the control socket path ${socketPath} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; use a shorter data_dir`);
  }
  // Only the owner-lock holder gets here, so a file at this path was left by a dead server.
  try {
    unlinkSync(socketPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const connections = new Set<Socket>();
  const inFlight = new Set<Promise<void>>();
  const server: Server = createServer((socket) => {
    if (connections.size >= MAX_CONNECTIONS) {
      socket.end(encodeLine(errorResponse(0, "refused", "too many admin commands at once; try again")));
      return;
    }
    connections.add(socket);
    socket.on("close", () => connections.delete(socket));
    serveConnection(socket, options, (work) => {
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
    });
  });
  server.maxConnections = MAX_CONNECTIONS + 1;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // Created owner-only from the start (umask), not chmod-ed after a window where others could connect.
    const previousMask = process.umask(0o177);
    try {
      server.listen(socketPath, () => {
        server.off("error", reject);
        resolve();
      });
    } finally {
      process.umask(previousMask);
    }
  });
  chmodSync(socketPath, 0o600);
  log.info("control.listening", { socket: socketPath });

  let closing: Promise<void> | null = null;
  return {
    socketPath,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await Promise.allSettled([...inFlight]);
        for (const socket of connections) socket.end();
        try {
          unlinkSync(socketPath);
        } catch {
          // Already gone (server.close removes it on some platforms).
        }
      })();
      return closing;
    },
  };
}

function serveConnection(socket: Socket, options: ControlServerOptions, track: (work: Promise<void>) => void): void {
  const splitter = new LineSplitter(MAX_REQUEST_BYTES);
  let queue: Promise<void> = Promise.resolve();
  socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
  socket.on("error", () => socket.destroy());
  socket.on("data", (chunk: Buffer) => {
    let lines: string[];
    try {
      lines = splitter.push(chunk);
    } catch (error) {
      socket.end(encodeLine(errorResponse(0, "protocol", (error as Error).message)));
      socket.pause();
      return;
    }
    for (const line of lines) {
      // One at a time per connection, in order: the CLI sends the next after the answer anyway.
      queue = queue.then(() => answer(line, options, socket).then((response) => void (socket.writable && socket.write(encodeLine(response)))));
      track(queue);
    }
  });
}

/**
 * Progress lines of one request are sent at most this often (the last of a phase always): enough
 * for a bar, and a write now and then keeps a long rebuild's connection from the idle timeout.
 */
const PROGRESS_INTERVAL_MS = 200;

async function answer(line: string, options: ControlServerOptions, socket: Socket): Promise<ControlResponse> {
  let id = 0;
  const started = performance.now();
  try {
    const request = decodeRequest(line);
    id = request.id;
    let lastSent = 0;
    const progress = (value: unknown): void => {
      const now = performance.now();
      const { done, total } = (value ?? {}) as { done?: unknown; total?: unknown };
      if (now - lastSent < PROGRESS_INTERVAL_MS && done !== total) return;
      lastSent = now;
      if (socket.writable) socket.write(encodeLine({ v: CONTROL_PROTOCOL_VERSION, id, progress: value }));
    };
    const result = request.method === "server.status" ? options.status(request.args[0] === "reset") : await invokeAdminMethod(await options.operations, request.method, request.args, progress);
    options.log.info("control.request", { method: request.method, ok: true, ms: Math.round(performance.now() - started) });
    return { v: CONTROL_PROTOCOL_VERSION, id, ok: true, result };
  } catch (error) {
    const [kind, message] = classify(error);
    const fields = { method: safeMethod(line), ok: false, kind, ms: Math.round(performance.now() - started) };
    if (kind === "internal") options.log.error("control.request", { ...fields, error });
    else options.log.info("control.request", { ...fields, message });
    return errorResponse(id, kind, message);
  }
}

function classify(error: unknown): [ControlErrorKind, string] {
  if (error instanceof AdminError) return [error.kind, error.message];
  if (error instanceof ControlProtocolError) return ["protocol", error.message];
  return ["internal", error instanceof Error ? error.message : String(error)];
}

/** The method name of a request line for the log, never its arguments. */
function safeMethod(line: string): string | null {
  try {
    const method = (JSON.parse(line) as { method?: unknown }).method;
    return typeof method === "string" ? method.slice(0, 100) : null;
  } catch {
    return null;
  }
}

function errorResponse(id: number, kind: ControlErrorKind, message: string): ControlResponse {
  return { v: CONTROL_PROTOCOL_VERSION, id, ok: false, error: { kind, message } };
}
