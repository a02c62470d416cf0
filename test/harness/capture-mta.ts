// A minimal remote MTA for outbound tests of the admin pages and account page: it refuses
// recipients with a 451 until told to accept, then keeps each message's data.
import { createServer, type Server, type Socket } from "node:net";

/** A remote MTA on loopback: RCPT is answered 451 until `accepting` is set, then messages are kept. */
export function remoteMta(): Promise<{ port: number; accepting: boolean; messages: string[]; close(): Promise<void> }> {
  const state = { port: 0, accepting: false, messages: [] as string[], close: async () => {} };
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    let pending = "";
    let data: string[] | null = null;
    socket.write("220 remote.test ESMTP\r\n");
    socket.on("data", (chunk: Buffer) => {
      pending += chunk.toString("latin1");
      let end: number;
      while ((end = pending.indexOf("\r\n")) >= 0) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 2);
        if (data !== null) {
          if (line === ".") {
            state.messages.push(data.join("\r\n"));
            data = null;
            socket.write("250 2.0.0 kept\r\n");
          } else data.push(line);
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO" || verb === "HELO") socket.write("250-remote.test\r\n250 8BITMIME\r\n");
        else if (verb === "MAIL") socket.write("250 2.1.0 ok\r\n");
        else if (verb === "RCPT") socket.write(state.accepting ? "250 2.1.5 ok\r\n" : "451 4.3.0 not now, try later\r\n");
        else if (verb === "DATA") {
          data = [];
          socket.write("354 go on\r\n");
        } else if (verb === "QUIT") socket.end("221 2.0.0 bye\r\n");
        else socket.write("250 ok\r\n");
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      state.port = (server.address() as { port: number }).port;
      state.close = () => new Promise<void>((done) => {
        for (const s of sockets) s.destroy();
        server.close(() => done());
      });
      resolve(state);
    });
  });
}
