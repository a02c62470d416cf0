// A receiving SMTP server for multi-node outbound tests: it keeps every message it answered 250
// to, with the EHLO name of the node that sent it, so a test can count Message-IDs. A message
// counts as delivered only once its 250 has been written (RFC 5321 §6.1: the receiver takes
// responsibility with its reply). `holdFrom` names EHLO names whose messages get no reply after
// DATA until the connection closes: a node killed while held has delivered nothing, so a later
// delivery of the same message by another node is a retry, not a duplicate.
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";

export interface SunkMessage {
  helo: string;
  messageId: string | null;
  data: Buffer;
}

export class SmtpSink {
  port = 0;
  readonly accepted: SunkMessage[] = [];
  /** Messages held without a reply, per EHLO name (connection closed or not). */
  readonly held = new Map<string, number>();
  /** Message-IDs of held messages. */
  readonly heldIds = new Set<string>();
  holdFrom = new Set<string>();
  #server: Server | null = null;
  readonly #sockets = new Set<Socket>();

  async listen(): Promise<void> {
    const server = createServer((socket) => this.#accept(socket));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** Message-ID → how many times it was accepted. */
  counts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const m of this.accepted) counts.set(m.messageId ?? "", (counts.get(m.messageId ?? "") ?? 0) + 1);
    return counts;
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => undefined);
    socket.write("220 sink.test ESMTP\r\n");
    let buffer = Buffer.alloc(0);
    let inData = false;
    let helo = "";
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (inData) {
          const end = buffer.indexOf("\r\n.\r\n");
          if (end < 0) return;
          const data = Buffer.from(buffer.subarray(0, end + 2).toString("latin1").replace(/^\.\./gm, "."), "latin1");
          buffer = buffer.subarray(end + 5);
          inData = false;
          const messageId = /^Message-ID:\s*(\S+)/im.exec(data.toString("latin1"))?.[1] ?? null;
          if (this.holdFrom.has(helo)) {
            // No reply, ever: the sender is meant to die waiting.
            this.held.set(helo, (this.held.get(helo) ?? 0) + 1);
            if (messageId !== null) this.heldIds.add(messageId);
            socket.removeAllListeners("data");
            return;
          }
          socket.write("250 2.0.0 Ok: queued\r\n");
          this.accepted.push({ helo, messageId, data });
          continue;
        }
        const end = buffer.indexOf("\r\n");
        if (end < 0) return;
        const line = buffer.subarray(0, end).toString("latin1");
        buffer = buffer.subarray(end + 2);
        const verb = line.split(/[ :]/)[0]!.toUpperCase();
        if (verb === "EHLO" || verb === "HELO") {
          helo = line.slice(5).trim();
          socket.write("250-sink.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 50000000\r\n");
        } else if (verb === "DATA") {
          inData = true;
          socket.write("354 go ahead\r\n");
        } else if (verb === "QUIT") {
          socket.end("221 2.0.0 Bye\r\n");
          return;
        } else socket.write("250 2.0.0 Ok\r\n");
      }
    });
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => (this.#server ? this.#server.close(resolve) : resolve(undefined)));
  }
}
