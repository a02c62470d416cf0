// A buffered reader over one TCP socket for the load generators: read a CRLF line, read exactly n
// bytes (IMAP literals), write. Every wait has a deadline, so a stuck server fails the run instead
// of hanging the bench. One class serves the SMTP, IMAP and POP3 clients.
import { connect, type Socket } from "node:net";

export interface Endpoint {
  host: string;
  port: number;
}

export class WireError extends Error {}

export class Wire {
  private buffer: Buffer = Buffer.alloc(0);
  private offset = 0;
  private waiter: (() => void) | null = null;
  private ended: Error | null = null;

  private constructor(private readonly socket: Socket, private readonly timeoutMs: number) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer = this.offset < this.buffer.length ? Buffer.concat([this.buffer.subarray(this.offset), chunk]) : chunk;
      this.offset = 0;
      this.wake();
    });
    socket.on("error", (err) => { this.ended ??= err; this.wake(); });
    socket.on("close", () => { this.ended ??= new WireError("connection closed by the server"); this.wake(); });
  }

  static connect(endpoint: Endpoint, timeoutMs = 60_000): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
      const timer = setTimeout(() => { socket.destroy(); reject(new WireError(`connect to ${endpoint.host}:${endpoint.port} timed out`)); }, timeoutMs);
      socket.once("error", (err) => { clearTimeout(timer); reject(err); });
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new Wire(socket, timeoutMs));
      });
    });
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  private async more(what: string): Promise<void> {
    if (this.ended) throw this.ended;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { this.waiter = null; reject(new WireError(`no ${what} from the server within ${this.timeoutMs} ms`)); }, this.timeoutMs);
      this.waiter = () => { clearTimeout(timer); resolve(); };
    });
  }

  /** The next line without its CRLF (a bare LF also ends it). */
  async readLine(): Promise<string> {
    for (;;) {
      const lf = this.buffer.indexOf(0x0a, this.offset);
      if (lf >= 0) {
        const end = lf > this.offset && this.buffer[lf - 1] === 0x0d ? lf - 1 : lf;
        const line = this.buffer.toString("latin1", this.offset, end);
        this.offset = lf + 1;
        return line;
      }
      if (this.ended) throw this.ended;
      await this.more("line");
    }
  }

  /** Exactly `count` bytes, returned as their length only: the benchmarks never keep bodies. */
  async skipBytes(count: number): Promise<void> {
    let left = count;
    for (;;) {
      const take = Math.min(left, this.buffer.length - this.offset);
      this.offset += take;
      left -= take;
      if (left === 0) return;
      await this.more(`${left} more literal bytes`);
    }
  }

  write(data: string | Buffer): void {
    if (this.ended) throw this.ended;
    this.socket.write(data);
  }

  /** Waits until the socket's buffered output drained, so a big pipelined batch does not pile up in memory. */
  async drain(): Promise<void> {
    if (this.socket.writableLength === 0) return;
    await new Promise<void>((resolve) => {
      this.socket.once("drain", resolve);
      this.socket.once("close", resolve);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
