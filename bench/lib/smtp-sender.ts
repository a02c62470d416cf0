// An SMTP client for load: one connection sends a list of messages, each as one PIPELINING group
// (MAIL, RCPT, DATA sent together, RFC 2920 §3.1: DATA may end a group), then the dot-stuffed body.
// No TLS and no AUTH: it plays a mail server delivering to an MX on loopback.
import { Wire, WireError, type Endpoint } from "./wire.js";

export interface SmtpEnvelope {
  from: string;
  to: string;
}

/** RFC 5321 §4.5.2: a line starting with "." gets one more; the body ends with CRLF.CRLF. */
export function dotStuff(message: Buffer): Buffer {
  const text = message.toString("latin1");
  const stuffed = (text.startsWith(".") ? "." : "") + text.replace(/\r\n\./g, "\r\n..");
  return Buffer.from(stuffed.endsWith("\r\n") ? `${stuffed}.\r\n` : `${stuffed}\r\n.\r\n`, "latin1");
}

/** One reply, multi-line included; returns its code. */
async function reply(wire: Wire): Promise<number> {
  for (;;) {
    const line = await wire.readLine();
    if (line.length < 3) throw new WireError(`malformed SMTP reply "${line}"`);
    if (line[3] !== "-") return Number(line.slice(0, 3));
  }
}

async function expect(wire: Wire, codes: number[], what: string): Promise<void> {
  const code = await reply(wire);
  if (!codes.includes(code)) throw new WireError(`SMTP ${what}: got ${code}`);
}

export class SmtpSender {
  private constructor(private readonly wire: Wire, private readonly pipelining: boolean) {}

  static async open(endpoint: Endpoint, heloName = "sender.bench.invalid"): Promise<SmtpSender> {
    const wire = await Wire.connect(endpoint);
    try {
      await expect(wire, [220], "greeting");
      wire.write(`EHLO ${heloName}\r\n`);
      let pipelining = false;
      for (;;) {
        const line = await wire.readLine();
        if (/^250[- ]PIPELINING$/i.test(line)) pipelining = true;
        if (!line.startsWith("250")) throw new WireError(`SMTP EHLO: ${line}`);
        if (line[3] !== "-") break;
      }
      return new SmtpSender(wire, pipelining);
    } catch (err) {
      wire.close();
      throw err;
    }
  }

  /** Sends one message that must already be dot-stuffed (see dotStuff). */
  async send(envelope: SmtpEnvelope, stuffedBody: Buffer): Promise<void> {
    const commands = [`MAIL FROM:<${envelope.from}>\r\n`, `RCPT TO:<${envelope.to}>\r\n`, "DATA\r\n"];
    if (this.pipelining) {
      this.wire.write(commands.join(""));
      await expect(this.wire, [250], "MAIL");
      await expect(this.wire, [250, 251], "RCPT");
      await expect(this.wire, [354], "DATA");
    } else {
      for (const [i, command] of commands.entries()) {
        this.wire.write(command);
        await expect(this.wire, i === 2 ? [354] : [250, 251], command.trim());
      }
    }
    this.wire.write(stuffedBody);
    await this.wire.drain();
    await expect(this.wire, [250], "end of data");
  }

  async quit(): Promise<void> {
    try {
      this.wire.write("QUIT\r\n");
      await reply(this.wire);
    } catch {
      // the server may close first
    } finally {
      this.wire.close();
    }
  }
}
