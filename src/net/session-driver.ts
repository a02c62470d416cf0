// Runs a sans-IO byte session over a Connection: the loop the line protocols (SMTP, POP3) share.
// The session consumes bytes and speaks through its own transport; this only feeds it until it
// closes or the peer goes away, logs a failure once with the connection id, and always closes.
import type { Connection } from "./connection.js";

export interface ByteSession {
  start(): Promise<void>;
  receive(chunk: Buffer): Promise<void>;
  /** Ends the session's timers and work; called exactly once, whatever happened. */
  end(): void;
  readonly closed: boolean;
}

export async function driveSession(connection: Connection, session: ByteSession, protocol: string, onEnd?: () => void): Promise<void> {
  try {
    await session.start();
    for (let chunk = await connection.read(); chunk !== null && !session.closed; chunk = await connection.read()) {
      await session.receive(chunk);
    }
  } catch (error) {
    connection.log.error(`${protocol}.connection_error`, { error });
  } finally {
    session.end();
    onEnd?.();
    await connection.close();
  }
}
