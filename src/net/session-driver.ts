// Runs a sans-IO byte session over a Connection: the loop the line protocols (SMTP, POP3) share.
// The session consumes bytes and speaks through its own transport; this only feeds it until it
// closes or the peer goes away, logs a failure once with the connection id, and always closes.
//
// It is also where a graceful stop is decided, because only the loop knows whether the session
// is waiting for the client or working on what the client sent (docs/architecture.md, "Stopping"):
// - waiting for input (idle, between commands, or mid-way through a message the client is still
//   sending): the session says goodbye at once;
// - working (a command in flight: a message committing, a QUIT's UPDATE): the session finishes that
//   command and sends its real reply, starts none of the commands pipelined behind it, and then
//   says goodbye. A client is never told "failed" about something the server has done.
import type { Connection } from "./connection.js";

export interface ByteSession {
  start(): Promise<void>;
  receive(chunk: Buffer): Promise<void>;
  /** Ends the session's timers and work; called exactly once, whatever happened. */
  end(): void;
  readonly closed: boolean;
  /**
   * The server is stopping: once the command being processed (if any) is answered, start no
   * further command, even one already received. receive() then returns early.
   */
  stopTakingCommands(): void;
  /** The protocol's goodbye for a stopping server (SMTP 421 4.3.2, POP3 -ERR [SYS/TEMP]), then close. */
  sayGoodbye(): Promise<void>;
}

export class SessionDriver {
  readonly #connection: Connection;
  readonly #session: ByteSession;
  readonly #protocol: string;
  /** True while the loop waits for the client's next bytes (nothing of ours is in flight). */
  #awaitingInput = false;
  #stopping = false;
  #goodbye: Promise<void> | null = null;

  constructor(connection: Connection, session: ByteSession, protocol: string) {
    this.#connection = connection;
    this.#session = session;
    this.#protocol = protocol;
  }

  /** Runs the session to its end; never rejects. */
  async run(): Promise<void> {
    const connection = this.#connection;
    const session = this.#session;
    try {
      await session.start();
      while (!session.closed) {
        if (this.#stopping) {
          await this.#sayGoodbye();
          break;
        }
        this.#awaitingInput = true;
        const chunk = await connection.read();
        this.#awaitingInput = false;
        if (chunk === null || session.closed) break;
        await session.receive(chunk);
      }
    } catch (error) {
      connection.log.error(`${this.#protocol}.connection_error`, { error });
    } finally {
      this.#awaitingInput = false;
      session.end();
      await connection.close();
    }
  }

  /**
   * Server stopping: a session waiting for the client says goodbye now; one working on a command
   * answers it first (see the module comment). Resolves once the connection has closed.
   */
  async stop(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#session.stopTakingCommands();
      if (this.#awaitingInput) void this.#sayGoodbye();
    }
    await this.#connection.closed;
  }

  #sayGoodbye(): Promise<void> {
    this.#goodbye ??= this.#session.closed
      ? Promise.resolve()
      : this.#session.sayGoodbye().catch((error: unknown) => {
          this.#connection.log.debug(`${this.#protocol}.goodbye_failed`, { error });
        });
    return this.#goodbye;
  }
}
