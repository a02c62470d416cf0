// An SMTP load generator over raw sockets, for any server that accepts mail on a plain port (Mailroom,
// or Postfix in the peer comparison). `clients` connections share one pool of `messages`
// messages of `messageSize` octets; each connection sends EHLO once, then per message MAIL, RCPT,
// DATA, the body and the terminator, and waits for the final 250 before taking the next message.
// That 250 is the server's word that the message is safe (RFC 5321 §4.1.1.4 / §6.1), so what is
// counted is accepted-and-durable mail, from the first connect to the last 250.
//
// With `pipelining` MAIL, RCPT and DATA go out in one write (RFC 2920 §3.1: DATA may end a group)
// and their three replies are read after; the body waits for the 354, as RFC 2920 requires.
// Without it each command waits for its reply, as a client of a server without PIPELINING does.
// The server must advertise PIPELINING when it is asked for; a refusal of any message throws.
import { connect, type Socket } from "node:net";

export interface SmtpLoadOptions {
  host: string;
  port: number;
  /** Concurrent connections. */
  clients: number;
  /** Messages in total, over all connections. */
  messages: number;
  /** Octets of each message, header included (the DATA terminator not counted). */
  messageSize: number;
  pipelining: boolean;
  /** Default "load@bench.example". */
  from?: string;
  /** Default "user@bench.test"; must be a recipient the server accepts. */
  to?: string;
  /** EHLO name; default "load.bench.example". */
  helo?: string;
}

export interface SmtpLoadResult {
  /** From the first connect to the last 250 (QUIT not included). */
  seconds: number;
  messagesPerSecond: number;
}

export async function runSmtpLoad(options: SmtpLoadOptions): Promise<SmtpLoadResult> {
  if (options.clients < 1 || options.messages < 1) throw new RangeError("runSmtpLoad: clients and messages must be at least 1");
  let next = 0;
  // Made on demand (a few microseconds each), so no two messages are alike and memory stays flat.
  const take = (): Buffer | null => (next < options.messages ? dataStream(syntheticMessage(next++, options.messageSize)) : null);
  const started = process.hrtime.bigint();
  const sessions = await Promise.all(Array.from({ length: Math.min(options.clients, options.messages) }, () => openSession(options)));
  try {
    await Promise.all(sessions.map((session) => sendAll(session, options, take)));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { seconds, messagesPerSecond: options.messages / seconds };
  } finally {
    await Promise.all(sessions.map((session) => session.quit()));
  }
}

async function openSession(options: SmtpLoadOptions): Promise<ReplyReader> {
  const socket = connect(options.port, options.host);
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const session = new ReplyReader(socket);
  await session.expect(220, "greeting");
  socket.write(`EHLO ${options.helo ?? "load.bench.example"}\r\n`);
  const ehlo = await session.expect(250, "EHLO");
  if (options.pipelining && !/^250[- ]PIPELINING$/im.test(ehlo)) throw new Error("runSmtpLoad: the server does not advertise PIPELINING");
  return session;
}

async function sendAll(session: ReplyReader, options: SmtpLoadOptions, take: () => Buffer | null): Promise<void> {
  const mail = `MAIL FROM:<${options.from ?? "load@bench.example"}>\r\n`;
  const rcpt = `RCPT TO:<${options.to ?? "user@bench.test"}>\r\n`;
  const socket = session.socket;
  for (let body = take(); body !== null; body = take()) {
    if (options.pipelining) {
      socket.write(`${mail}${rcpt}DATA\r\n`);
      await session.expect(250, "MAIL");
      await session.expect(250, "RCPT");
      await session.expect(354, "DATA");
    } else {
      socket.write(mail);
      await session.expect(250, "MAIL");
      socket.write(rcpt);
      await session.expect(250, "RCPT");
      socket.write("DATA\r\n");
      await session.expect(354, "DATA");
    }
    socket.write(body);
    await session.expect(250, "end of data");
  }
}

/** Reads whole SMTP replies (RFC 5321 §4.2: continuation lines "ddd-", last line "ddd "). */
class ReplyReader {
  #buffer = "";
  #wake: (() => void) | null = null;
  #closed = false;

  constructor(readonly socket: Socket) {
    socket.setEncoding("latin1");
    socket.on("data", (text: string) => {
      this.#buffer += text;
      this.#notify();
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#notify();
    });
    socket.on("error", () => {});
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async expect(code: number, what: string): Promise<string> {
    for (;;) {
      const match = /^(?:\d{3}-[^\r\n]*\r\n)*(\d{3})(?: [^\r\n]*)?\r\n/.exec(this.#buffer);
      if (match) {
        this.#buffer = this.#buffer.slice(match[0].length);
        if (Number(match[1]) !== code) throw new Error(`runSmtpLoad: ${what} answered ${match[0].trim()}`);
        return match[0];
      }
      if (this.#closed) throw new Error(`runSmtpLoad: connection closed waiting for the reply to ${what}`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  async quit(): Promise<void> {
    if (this.#closed) return;
    this.socket.write("QUIT\r\n");
    await Promise.race([new Promise((resolve) => this.socket.once("close", resolve)), new Promise((resolve) => setTimeout(resolve, 1_000))]);
    this.socket.destroy();
  }
}

/**
 * A plain-text message of exactly `size` octets (at least its header), lines of 72 characters,
 * none starting with "." (so the DATA stream needs no dot-stuffing) and a unique Message-ID per
 * index, so a server that deduplicates would not be flattered.
 */
export function syntheticMessage(index: number, size: number): Buffer {
  const header =
    `From: Load <load@bench.example>\r\nTo: <user@bench.test>\r\nSubject: load message ${index}\r\n` +
    `Date: Thu, 01 Jan 2026 00:00:00 +0000\r\nMessage-ID: <${index}.${process.pid}.${Date.now()}@bench.example>\r\n\r\n`;
  const text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.";
  const line = `${text}\r\n`;
  const room = Math.max(0, size - header.length);
  let body = line.repeat(Math.floor(room / line.length));
  // The last line is cut to fit and still ends in CRLF, so the terminator follows a line end
  // (RFC 5321 §4.1.1.4) and no bare CR or LF is made (a short remainder of 1–2 octets is dropped).
  const rest = room - body.length;
  if (rest >= 3) body += `${text.slice(0, rest - 2)}\r\n`;
  return Buffer.from(header + body, "latin1");
}

/** The message as sent after DATA: it has no line starting with ".", so only the terminator is added. */
function dataStream(message: Buffer): Buffer {
  const text = message.toString("latin1");
  const ended = text.endsWith("\r\n") ? text : `${text}\r\n`;
  return Buffer.from(`${ended}.\r\n`, "latin1");
}
