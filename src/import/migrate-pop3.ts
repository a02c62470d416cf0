// `mailroom migrate --from pop3s://user@host` (or pop3:// with STLS required, RFC 2595 §4): for
// providers that offer only POP3. Every message of the maildrop goes into INBOX, nothing is
// deleted on the source; messages are known by their UIDL (RFC 1939 §7), so an interrupted run
// resumes and a later run fetches only new ones. POP3 has no flags and no INTERNALDATE: the date
// of the newest Received field (when the old server took the message) stands in, else Date:.
// A small client of our own: USER/PASS, UIDL, LIST, RETR with dot-unstuffing; every reply line
// and every message is bounded (a multi-line reply is read up to limits.max_message_size).
import { connect as connectTcp, type Socket } from "node:net";
import { connect as connectTls, type TLSSocket } from "node:tls";
import type { MigrationStateStore } from "../store/index.js";
import { MigrateInterrupted, type MigratedFolder, type MigrateReport, type MigrateRequest, type MigrateSource } from "./migrate-imap.js";
import { MigrationTarget } from "./migrate-target.js";
import { separatorDate } from "./mbox-reader.js";

const MAX_LINE = 8192;
const MAX_PROBLEM_LINES = 50;

class Pop3Error extends Error {}

/** One POP3 session: commands in turn, replies read line by line from a buffer. */
export class Pop3Client {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: (() => void) | null = null;
  private failure: Error | null = null;

  private constructor(
    private socket: Socket | TLSSocket,
    private readonly timeoutMs: number,
  ) {
    this.attach(socket);
  }

  private attach(socket: Socket | TLSSocket): void {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    const fail = (error: Error) => {
      this.failure ??= error;
      this.wake();
    };
    socket.on("error", fail);
    socket.on("close", () => fail(new Pop3Error("the server closed the connection")));
    socket.setTimeout(this.timeoutMs, () => {
      fail(new Pop3Error(`no answer within ${this.timeoutMs} ms`));
      socket.destroy();
    });
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.();
  }

  static async open(source: MigrateSource, timeoutMs: number): Promise<Pop3Client> {
    const tlsOptions = { rejectUnauthorized: !source.insecureTls, ...(/^[\d.:]+$/.test(source.host) ? {} : { servername: source.host }) };
    const socket = await new Promise<Socket | TLSSocket>((resolve, reject) => {
      const s = source.protocol === "pop3s" ? connectTls({ host: source.host, port: source.port, ...tlsOptions }) : connectTcp({ host: source.host, port: source.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Pop3Error(`cannot connect: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once(source.protocol === "pop3s" ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        s.removeAllListeners("error");
        resolve(s);
      });
      s.once("error", (error) => {
        clearTimeout(timer);
        reject(new Pop3Error(`cannot connect: ${error.message}`));
      });
    });
    const client = new Pop3Client(socket, timeoutMs);
    try {
      await client.status();
      if (source.protocol === "pop3") {
        // RFC 2595 §4: STLS, then the greeting is not repeated; the password only goes over TLS.
        const reply = await client.command("STLS", false);
        if (!reply.ok) throw new Pop3Error("the server offers no STLS; refusing to send the password in clear (use pop3s://)");
        await client.startTls(source, tlsOptions);
      }
      const user = await client.command(`USER ${source.user}`, false);
      const pass = user.ok ? await client.command(`PASS ${source.password}`, false) : user;
      if (!pass.ok) throw new Pop3Error(`login refused (${pass.text}): check the user and password`);
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  private startTls(source: MigrateSource, options: { rejectUnauthorized: boolean; servername?: string }): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    plain.removeAllListeners("error");
    plain.setTimeout(0);
    return new Promise((resolve, reject) => {
      const secured = connectTls({ socket: plain, ...options }, () => {
        this.attach(secured);
        resolve();
      });
      secured.once("error", (error) => reject(new Pop3Error(`TLS after STLS failed: ${error.message} (${source.host})`)));
    });
  }

  private async line(): Promise<Buffer> {
    for (;;) {
      const end = this.buffer.indexOf(10);
      if (end >= 0) {
        const line = this.buffer.subarray(0, end > 0 && this.buffer[end - 1] === 13 ? end - 1 : end);
        this.buffer = this.buffer.subarray(end + 1);
        return line;
      }
      if (this.failure) throw this.failure;
      if (this.buffer.length > MAX_LINE * 1024) throw new Pop3Error("a reply line is too long");
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  private async status(): Promise<{ ok: boolean; text: string }> {
    const line = (await this.line()).toString("latin1");
    if (line.length > MAX_LINE) throw new Pop3Error("a status line is too long");
    return { ok: line.startsWith("+OK"), text: line.replace(/^[+-](OK|ERR)\s?/, "") };
  }

  async command(text: string, mustSucceed = true): Promise<{ ok: boolean; text: string }> {
    this.socket.write(`${text}\r\n`);
    const reply = await this.status();
    if (mustSucceed && !reply.ok) throw new Pop3Error(`${text.split(" ")[0]} refused: ${reply.text}`);
    return reply;
  }

  /** A multi-line reply's body, dot-unstuffed, CRLF line ends; refused past maxBytes. */
  async multiline(maxBytes: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let size = 0;
    for (;;) {
      let line = await this.line();
      if (line.length === 1 && line[0] === 0x2e) break;
      if (line[0] === 0x2e) line = line.subarray(1);
      size += line.length + 2;
      if (size > maxBytes) throw new Pop3Error(`a reply is larger than ${maxBytes} octets`);
      parts.push(Buffer.from(line), Buffer.from("\r\n"));
    }
    return Buffer.concat(parts);
  }

  close(): void {
    this.socket.destroy();
  }

  async quit(): Promise<void> {
    // QUIT commits nothing here (no DELE was sent): the maildrop stays as it was.
    await this.command("QUIT", false).catch(() => undefined);
    this.close();
  }
}

/** When the old server received the message: the newest (topmost) Received field's date, else Date:. */
export function receivedDate(message: Buffer): Date | null {
  const end = message.indexOf("\r\n\r\n");
  const header = message.subarray(0, end < 0 ? Math.min(message.length, 65536) : Math.min(end, 65536)).toString("latin1").replace(/\r\n[ \t]+/g, " ");
  const received = /^Received:[^\n]*;\s*([^\r\n]+)/im.exec(header);
  for (const text of [received?.[1], /^Date:\s*([^\r\n]+)/im.exec(header)?.[1]]) {
    if (!text) continue;
    const date = new Date(text.replace(/\([^)]*\)/g, "").trim());
    if (!Number.isNaN(date.getTime())) return date;
    const asctime = separatorDate(`From x ${text.trim()}`);
    if (asctime) return asctime;
  }
  return null;
}

export async function migratePop3(request: MigrateRequest & { state: MigrationStateStore }): Promise<MigrateReport> {
  const started = Date.now();
  const { source } = request;
  const problems: string[] = [];
  let problemCount = 0;
  const problem = (line: string) => {
    problemCount++;
    if (problems.length < MAX_PROBLEM_LINES) problems.push(line);
  };
  let client: Pop3Client;
  try {
    client = await Pop3Client.open(source, request.timeoutMs);
  } catch (error) {
    throw new Error(`${source.key}: ${(error as Error).message}`);
  }
  let bytes = 0;
  const folders: MigratedFolder[] = [];
  try {
    await client.command("UIDL");
    const uidls = new Map<number, string>();
    for (const line of (await client.multiline(64 * 1024 * 1024)).toString("latin1").split("\r\n")) {
      const match = /^(\d+) ([\x21-\x7e]{1,70})$/.exec(line);
      if (match) uidls.set(Number(match[1]), match[2]!);
    }
    await client.command("LIST");
    const sizes = new Map<number, number>();
    for (const line of (await client.multiline(64 * 1024 * 1024)).toString("latin1").split("\r\n")) {
      const match = /^(\d+) (\d+)/.exec(line);
      if (match) sizes.set(Number(match[1]), Number(match[2]));
    }
    const inbox = await request.store.getMailbox(request.accountId, "INBOX");
    if (!inbox) throw new Error("the account has no INBOX");
    const folder = "";
    const copied = await request.state.listMigrated(request.accountId, source.key, folder);
    const target = await MigrationTarget.open(request.store, request.state, request.accountId, source.key, folder, inbox.id, inbox.name, { uidValidity: 0, lastUid: 0, mailbox: inbox.name });
    const todo = [...sizes.keys()].sort((a, b) => a - b).filter((n) => {
      const uidl = uidls.get(n);
      if (uidl === undefined) {
        problem(`message ${n}: the server gave it no UIDL: skipped (it could not be told apart on a later run)`);
        return false;
      }
      return !copied.has(uidl);
    });
    let done = 0;
    let lastProgress = 0;
    for (const number of todo) {
      if (request.signal?.aborted) {
        await target.flush();
        throw new MigrateInterrupted(done);
      }
      const uidl = uidls.get(number)!;
      const size = sizes.get(number)!;
      if (size > request.maxMessageBytes) {
        problem(`message ${number} (UIDL ${uidl}): ${size} octets, larger than limits.max_message_size (${request.maxMessageBytes}): skipped`);
        target.skip();
      } else {
        const reply = await client.command(`RETR ${number}`, false);
        if (!reply.ok) {
          problem(`message ${number} (UIDL ${uidl}): RETR refused (${reply.text}): skipped`);
          target.skip();
        } else {
          // LIST counts octets as the server stores them; allow for line-end differences.
          const body = await client.multiline(Math.max(request.maxMessageBytes, size * 2 + 1024));
          const outcome = await target.add(uidl, body, body.length, [], receivedDate(body), request.maxMessageBytes);
          if (outcome === "toobig") problem(`message ${number} (UIDL ${uidl}): larger than limits.max_message_size: skipped`);
          else bytes += body.length;
        }
      }
      done++;
      if (Date.now() - lastProgress >= 200) {
        lastProgress = Date.now();
        request.onProgress?.({ phase: "messages", done, total: todo.length });
      }
    }
    await target.flush();
    request.onProgress?.({ phase: "messages", done, total: todo.length });
    folders.push({ source: "INBOX", mailbox: inbox.name, sourceCount: sizes.size, ourCount: (await request.store.listMessages(inbox.id)).length, ...target.counts });
  } finally {
    await client.quit();
  }
  return { folders, problems, problemCount, bytes, durationMs: Date.now() - started };
}
