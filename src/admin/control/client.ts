// The admin command's end of the control socket: connect to a running server, send requests one
// at a time, turn error answers back into the AdminError the CLI maps to its exit codes.
import { connect, type Socket } from "node:net";
import { AdminError, type AdminErrorKind } from "../operations/index.js";
import { CONTROL_PROTOCOL_VERSION, ControlProtocolError, decodeResponse, encodeLine, LineSplitter, MAX_RESPONSE_BYTES, type ControlProgress, type ControlResponse } from "./protocol.js";

const ADMIN_KINDS: ReadonlySet<string> = new Set<AdminErrorKind>(["invalid-argument", "not-found", "conflict", "refused"]);

export interface ControlClient {
  /** Calls one method; resolves with its result, rejects with AdminError (or Error for a broken server). */
  call(method: string, args?: unknown[], onProgress?: (progress: unknown) => void): Promise<unknown>;
  close(): void;
}

/**
 * Connects to the server's control socket. Null when no server listens there (no socket file, or
 * a file left by a server that died: ECONNREFUSED); other errors (EACCES: not the owner) throw.
 */
export async function connectControl(socketPath: string, options: { connectTimeoutMs?: number } = {}): Promise<ControlClient | null> {
  const socket = await new Promise<Socket | null>((resolve, reject) => {
    const attempt = connect(socketPath);
    const timer = setTimeout(() => {
      attempt.destroy();
      resolve(null);
    }, options.connectTimeoutMs ?? 2000);
    attempt.once("connect", () => {
      clearTimeout(timer);
      resolve(attempt);
    });
    attempt.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === "ENOENT" || error.code === "ECONNREFUSED") resolve(null);
      else reject(new Error(`cannot reach the server's control socket ${socketPath}: ${error.message}`));
    });
  });
  return socket === null ? null : new SocketControlClient(socket);
}

class SocketControlClient implements ControlClient {
  private nextId = 1;
  private waiting: { id: number; resolve: (response: ControlResponse) => void; reject: (error: Error) => void; onProgress?: (progress: unknown) => void } | null = null;
  private failure: Error | null = null;
  private readonly splitter = new LineSplitter(MAX_RESPONSE_BYTES);

  constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      try {
        for (const line of this.splitter.push(chunk)) this.settle(decodeResponse(line));
      } catch (error) {
        this.fail(error instanceof Error ? error : new Error(String(error)));
        socket.destroy();
      }
    });
    socket.on("error", (error) => this.fail(new Error(`control socket: ${error.message}`)));
    socket.on("close", () => this.fail(new Error("the server closed the control connection before answering (did it stop?)")));
  }

  async call(method: string, args: unknown[] = [], onProgress?: (progress: unknown) => void): Promise<unknown> {
    if (this.failure) throw this.failure;
    if (this.waiting) throw new Error("one control request at a time");
    const id = this.nextId++;
    const response = await new Promise<ControlResponse>((resolve, reject) => {
      this.waiting = { id, resolve, reject, onProgress };
      this.socket.write(encodeLine({ v: CONTROL_PROTOCOL_VERSION, id, method, args }));
    });
    if (response.ok) return response.result;
    const { kind, message } = response.error;
    if (ADMIN_KINDS.has(kind)) throw new AdminError(kind as AdminErrorKind, message);
    throw new Error(kind === "internal" ? `the server failed: ${message}` : message);
  }

  close(): void {
    this.failure ??= new Error("control connection closed");
    this.socket.end();
  }

  private settle(response: ControlResponse | ControlProgress): void {
    const waiting = this.waiting;
    if (waiting === null || waiting.id !== response.id) throw new ControlProtocolError("answer to a request that was not asked");
    if ("progress" in response) {
      waiting.onProgress?.(response.progress);
      return;
    }
    this.waiting = null;
    waiting.resolve(response);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.reject(error);
  }
}
