// A raw POP3 client for load (RFC 1939): USER/PASS, STAT, and RETR/DELE pipelined when the server
// lists PIPELINING in CAPA (RFC 2449 §6.6), one command at a time otherwise. Multi-line replies are
// read to their terminating "." and counted, never kept.
import { Wire, WireError, type Endpoint } from "./wire.js";

async function status(wire: Wire, what: string): Promise<string> {
  const line = await wire.readLine();
  if (!line.startsWith("+OK")) throw new WireError(`POP3 ${what}: ${line}`);
  return line;
}

/** Reads a multi-line body to its "." line; returns its byte count (still dot-stuffed). */
async function multiline(wire: Wire): Promise<number> {
  let bytes = 0;
  for (;;) {
    const line = await wire.readLine();
    if (line === ".") return bytes;
    bytes += line.length + 2;
  }
}

export class Pop3Client {
  private constructor(private readonly wire: Wire, readonly pipelining: boolean) {}

  static async login(endpoint: Endpoint, user: string, password: string): Promise<Pop3Client> {
    const wire = await Wire.connect(endpoint, 120_000);
    try {
      await status(wire, "greeting");
      wire.write("CAPA\r\n");
      const capaLine = await wire.readLine();
      let pipelining = false;
      if (capaLine.startsWith("+OK")) {
        for (let line = await wire.readLine(); line !== "."; line = await wire.readLine()) if (/^PIPELINING$/i.test(line)) pipelining = true;
      }
      wire.write(`USER ${user}\r\n`);
      await status(wire, "USER");
      wire.write(`PASS ${password}\r\n`);
      await status(wire, "PASS");
      return new Pop3Client(wire, pipelining);
    } catch (err) {
      wire.close();
      throw err;
    }
  }

  async stat(): Promise<{ count: number; octets: number }> {
    this.wire.write("STAT\r\n");
    const [, count, octets] = (await status(this.wire, "STAT")).split(" ");
    return { count: Number(count), octets: Number(octets) };
  }

  /** RETR then DELE every message 1..count; returns the bytes downloaded. */
  async downloadAndDelete(count: number, window = 50): Promise<number> {
    let bytes = 0;
    const depth = this.pipelining ? window : 1;
    let sent = 0;
    let received = 0;
    while (received < count) {
      while (sent < count && sent - received < depth) {
        sent++;
        this.wire.write(`RETR ${sent}\r\nDELE ${sent}\r\n`);
      }
      await status(this.wire, "RETR");
      bytes += await multiline(this.wire);
      await status(this.wire, "DELE");
      received++;
    }
    return bytes;
  }

  /** QUIT commits the deletions (RFC 1939 §6, UPDATE state); its +OK comes after they are done. */
  async quit(): Promise<void> {
    try {
      this.wire.write("QUIT\r\n");
      await status(this.wire, "QUIT");
    } finally {
      this.wire.close();
    }
  }

  close(): void {
    this.wire.close();
  }
}
