import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { silentLogger } from "../observability/log.js";
import { Connection } from "./connection.js";
import { SessionDriver, type ByteSession } from "./session-driver.js";

/** A session that answers each chunk with "ok <chunk>", holding a chunk while `hold` is set. */
class EchoSession implements ByteSession {
  closed = false;
  stopping = false;
  readonly events: string[] = [];
  hold: Promise<void> | null = null;
  received: (() => void) | null = null;

  constructor(private readonly connection: Connection) {}

  async start(): Promise<void> {
    await this.connection.write("hello\n");
  }

  async receive(chunk: Buffer): Promise<void> {
    this.events.push(`receive ${chunk.toString().trim()}`);
    this.received?.();
    if (this.hold) await this.hold;
    await this.connection.write(`ok ${chunk.toString()}`);
    this.events.push("answered");
  }

  end(): void {
    this.events.push("end");
  }

  stopTakingCommands(): void {
    this.stopping = true;
    this.events.push("stop taking commands");
  }

  async sayGoodbye(): Promise<void> {
    this.events.push("goodbye");
    this.closed = true;
    await this.connection.write("bye\n");
    await this.connection.close();
  }
}

async function pair(): Promise<{ client: Socket; connection: Connection; received: () => string; close(): void }> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const client = connect((server.address() as AddressInfo).port, "127.0.0.1");
  const [socket] = (await once(server, "connection")) as [Socket];
  let text = "";
  client.on("data", (chunk: Buffer) => (text += chunk.toString()));
  client.on("end", () => client.end());
  return {
    client,
    connection: new Connection(socket, { log: silentLogger, closeLingerMs: 1000 }),
    received: () => text,
    close: () => server.close(),
  };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), "condition not met within 2 s");
}

test("a stop while the session waits for the client says goodbye at once", async () => {
  const { connection, received, close } = await pair();
  try {
    const session = new EchoSession(connection);
    const driver = new SessionDriver(connection, session, "test");
    const running = driver.run();
    await until(() => received() === "hello\n");
    await driver.stop();
    await running;
    assert.equal(received(), "hello\nbye\n");
    assert.deepEqual(session.events, ["stop taking commands", "goodbye", "end"]);
  } finally {
    close();
  }
});

test("a stop while a command is in flight lets it answer first, then says goodbye", async () => {
  const { client, connection, received, close } = await pair();
  try {
    const session = new EchoSession(connection);
    const driver = new SessionDriver(connection, session, "test");
    const running = driver.run();
    await until(() => received() === "hello\n");
    let release!: () => void;
    session.hold = new Promise<void>((resolve) => (release = resolve));
    const inFlight = new Promise<void>((resolve) => (session.received = resolve));
    client.write("commit\n");
    await inFlight;
    const stopped = driver.stop();
    // The command is still working: no goodbye yet, whatever the client sends meanwhile.
    client.write("next\n");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(session.events, ["receive commit", "stop taking commands"]);
    release();
    await stopped;
    await running;
    assert.equal(received(), "hello\nok commit\nbye\n", "the real answer comes before the goodbye");
    assert.deepEqual(session.events, ["receive commit", "stop taking commands", "answered", "goodbye", "end"]);
  } finally {
    close();
  }
});
