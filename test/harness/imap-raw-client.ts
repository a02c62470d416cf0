// A tiny raw IMAP client over a plain socket for exact-bytes tests: send text, wait for the line
// that completes a tag, or for the connection to close.
import { connect, type Socket } from "node:net";
import { once } from "node:events";

export class RawImapClient {
  private buffer = "";
  private ended = false;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.setEncoding("latin1");
    socket.on("data", (text: string) => {
      this.buffer += text;
      this.wake();
    });
    socket.on("close", () => {
      this.ended = true;
      this.wake();
    });
    socket.on("error", () => {});
  }

  static async open(port: number): Promise<RawImapClient> {
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    const client = new RawImapClient(socket);
    await client.until((text) => text.includes("\r\n"));
    return client;
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Everything received so far, and forgets it. */
  take(): string {
    const text = this.buffer;
    this.buffer = "";
    return text;
  }

  /** The next complete line received, without its CRLF. */
  async nextLine(timeoutMs = 5000): Promise<string> {
    await this.until((b) => b.includes("\r\n"), timeoutMs);
    const end = this.buffer.indexOf("\r\n");
    const line = this.buffer.slice(0, end);
    this.buffer = this.buffer.slice(end + 2);
    return line;
  }

  send(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** Waits until the received text satisfies the test (or the connection closes, or timeoutMs). */
  async until(test: (text: string) => boolean, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!test(this.buffer)) {
      if (this.ended) throw new Error(`connection closed; received: ${JSON.stringify(this.buffer)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; received: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.buffer;
  }

  /** Sends a command and returns every line up to and including its tagged completion. */
  async command(tag: string, text: string): Promise<string> {
    this.send(`${tag} ${text}\r\n`);
    await this.until((b) => new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`).test(b));
    return this.take();
  }

  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.ended;
  }

  close(): void {
    this.socket.destroy();
  }
}
