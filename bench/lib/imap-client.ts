// A raw IMAP4rev1 client for load: tagged commands that may be pipelined (RFC 3501 §5.5), server
// literals skipped by count, APPEND with LITERAL+ (RFC 7888) when offered and a synchronizing
// literal otherwise, and IDLE (RFC 2177). It keeps counts and, on request, the untagged lines; it
// never keeps message bodies, so the client's own cost stays flat while the server's is measured.
import { Wire, WireError, type Endpoint } from "./wire.js";

export interface TaggedResult {
  status: "OK" | "NO" | "BAD";
  text: string;
  /** Untagged responses received while this command was the oldest pending one. */
  untagged: number;
  lines: string[];
}

interface Pending {
  tag: string;
  keepLines: boolean;
  untagged: number;
  lines: string[];
  resolve(result: TaggedResult): void;
  reject(err: Error): void;
}

/** RFC 3501 §4.3 quoted string. */
export const quoted = (text: string): string => `"${text.replace(/(["\\])/g, "\\$1")}"`;

export class ImapClient {
  private tagCounter = 0;
  private readonly pending: Pending[] = [];
  private readonly continuations: { resolve(): void; reject(err: Error): void }[] = [];
  private failure: Error | null = null;
  capabilities = new Set<string>();
  /** Called for every untagged response, e.g. to see EXISTS arrive during IDLE. */
  onUntagged: ((line: string) => void) | null = null;

  private constructor(private readonly wire: Wire) {}

  static async login(endpoint: Endpoint, user: string, password: string, timeoutMs = 120_000): Promise<ImapClient> {
    const wire = await Wire.connect(endpoint, timeoutMs);
    const greeting = await wire.readLine().catch((err: unknown) => { wire.close(); throw err; });
    if (!greeting.startsWith("* OK")) {
      wire.close();
      throw new WireError(`IMAP greeting: ${greeting}`);
    }
    const client = new ImapClient(wire);
    void client.readLoop();
    try {
      await client.ok(`LOGIN ${quoted(user)} ${quoted(password)}`);
      const caps = await client.ok("CAPABILITY", true);
      for (const line of caps.lines) {
        if (/^\* CAPABILITY /i.test(line)) for (const cap of line.slice(13).split(" ")) client.capabilities.add(cap.toUpperCase());
      }
      return client;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  private async readLoop(): Promise<void> {
    try {
      for (;;) {
        let line = await this.wire.readLine();
        // A line ending in {n} announces a literal of n bytes; the response continues after it.
        for (let m = /\{(\d+)\}$/.exec(line); m; m = /\{(\d+)\}$/.exec(line)) {
          await this.wire.skipBytes(Number(m[1]));
          line = line.slice(0, m.index) + "{…}" + (await this.wire.readLine());
        }
        if (line.startsWith("+")) {
          const waiter = this.continuations.shift();
          if (!waiter) throw new WireError(`unexpected continuation: ${line}`);
          waiter.resolve();
        } else if (line.startsWith("* ")) {
          this.onUntagged?.(line);
          const current = this.pending[0];
          if (current) {
            current.untagged++;
            if (current.keepLines) current.lines.push(line);
          }
        } else {
          const space = line.indexOf(" ");
          const tag = line.slice(0, space);
          const index = this.pending.findIndex((p) => p.tag === tag);
          if (index < 0) throw new WireError(`response for unknown tag: ${line}`);
          const [done] = this.pending.splice(index, 1);
          const rest = line.slice(space + 1);
          const status = rest.slice(0, rest.indexOf(" ") >= 0 ? rest.indexOf(" ") : rest.length).toUpperCase();
          done!.resolve({ status: status === "OK" || status === "NO" ? status : "BAD", text: rest, untagged: done!.untagged, lines: done!.lines });
        }
      }
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      for (const p of this.pending.splice(0)) p.reject(this.failure);
      for (const c of this.continuations.splice(0)) c.reject(this.failure);
    }
  }

  private nextTag(): string {
    return `b${++this.tagCounter}`;
  }

  private register(tag: string, keepLines: boolean): Promise<TaggedResult> {
    if (this.failure) return Promise.reject(this.failure);
    const result = new Promise<TaggedResult>((resolve, reject) => this.pending.push({ tag, keepLines, untagged: 0, lines: [], resolve, reject }));
    // A command whose answer nobody awaits (an IDLE dropped with its socket) must not crash the bench.
    result.catch(() => {});
    return result;
  }

  private continuation(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const go = new Promise<void>((resolve, reject) => this.continuations.push({ resolve, reject }));
    go.catch(() => {});
    return go;
  }

  /** Sends one command; several calls without awaiting in between pipeline them. */
  command(text: string, keepLines = false): Promise<TaggedResult> {
    const tag = this.nextTag();
    const result = this.register(tag, keepLines);
    this.wire.write(`${tag} ${text}\r\n`);
    return result;
  }

  async ok(text: string, keepLines = false): Promise<TaggedResult> {
    const result = await this.command(text, keepLines);
    if (result.status !== "OK") throw new WireError(`IMAP ${text.split(" ")[0]}: ${result.text}`);
    return result;
  }

  /** APPEND one message. With LITERAL+ it does not wait for the server, so calls pipeline. */
  async append(mailbox: string, message: Buffer): Promise<TaggedResult> {
    const tag = this.nextTag();
    const result = this.register(tag, false);
    if (this.capabilities.has("LITERAL+")) {
      this.wire.write(Buffer.concat([Buffer.from(`${tag} APPEND ${quoted(mailbox)} {${message.length}+}\r\n`), message, Buffer.from("\r\n")]));
    } else {
      const go = this.continuation();
      this.wire.write(`${tag} APPEND ${quoted(mailbox)} {${message.length}}\r\n`);
      await go;
      this.wire.write(Buffer.concat([message, Buffer.from("\r\n")]));
    }
    await this.wire.drain();
    return result;
  }

  /** Enters IDLE; the returned function sends DONE and waits for the tagged OK. */
  async idle(): Promise<() => Promise<TaggedResult>> {
    const tag = this.nextTag();
    const result = this.register(tag, false);
    const go = this.continuation();
    this.wire.write(`${tag} IDLE\r\n`);
    await go;
    return async () => {
      this.wire.write("DONE\r\n");
      return result;
    };
  }

  /** RFC 3501 §6.3.10 STATUS MESSAGES of a mailbox. */
  async messageCount(mailbox: string): Promise<number> {
    const result = await this.ok(`STATUS ${quoted(mailbox)} (MESSAGES)`, true);
    for (const line of result.lines) {
      const m = /MESSAGES (\d+)/i.exec(line);
      if (m) return Number(m[1]);
    }
    throw new WireError("STATUS without MESSAGES");
  }

  async logout(): Promise<void> {
    try {
      if (!this.failure) await this.command("LOGOUT");
    } catch {
      // closing anyway
    } finally {
      this.wire.close();
    }
  }

  close(): void {
    this.wire.close();
  }
}
