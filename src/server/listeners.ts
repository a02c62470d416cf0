// The listener framework shared by the protocols: binds each configured port (falling back to
// port + offset when a privileged or busy port cannot be bound), counts connections against the
// per-IP and total limits before any protocol or TLS work, performs the implicit-TLS handshake
// (RFC 8314 §3), and hands each Connection to its protocol's SessionHandler. It also stops
// accepting and drains open sessions at shutdown. A failing session never takes the process down.

import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import type { Limits, ListenerConfig, ListenerProtocol, ListenerTls } from "../config/index.js";
import { Connection, ConnectionLimits, TlsHandshakeError, type SessionHandler, type TlsContextProvider } from "../net/index.js";
import type { Logger } from "../observability/log.js";

export interface BoundListener {
  protocol: ListenerProtocol;
  address: string;
  /** The port actually listened on: the configured one, port + offset after a fallback, or the one picked for 0. */
  port: number;
  tls: ListenerTls;
  requestedPort: number;
}

export interface SkippedListener {
  protocol: ListenerProtocol;
  address: string;
  port: number;
  tls: ListenerTls;
  reason: string;
}

export interface ListenerSet {
  bound: BoundListener[];
  skipped: SkippedListener[];
  /** Stops accepting new connections; open ones are untouched. */
  close(): Promise<void>;
  connectionCount(): number;
  /** Stops accepting, asks each session to say goodbye, waits up to graceMs, then destroys the rest. */
  drain(graceMs: number): Promise<void>;
}

export interface StartListenersOptions {
  listeners: readonly ListenerConfig[];
  tls: TlsContextProvider;
  limits: Pick<Limits, "connectionsPerIp" | "connectionsTotal" | "tlsHandshakeTimeout">;
  log: Logger;
  /** null: the protocol is not available, and its listener is skipped rather than bound. */
  handlerFor: (protocol: ListenerProtocol) => SessionHandler | null;
  /** 0 disables the fallback. */
  portFallbackOffset: number;
  /** How long a closing connection waits for the peer before it is destroyed. Default 5s. */
  closeLingerMs?: number;
}

export class ListenerBindError extends Error {
  override readonly name = "ListenerBindError";
}

type Phase = "handshake" | "refusing" | "session";
interface Tracked {
  handler: SessionHandler;
  phase: Phase;
}

export async function startListeners(options: StartListenersOptions): Promise<ListenerSet> {
  const { log } = options;
  const admission = new ConnectionLimits({ perIp: options.limits.connectionsPerIp, total: options.limits.connectionsTotal });
  const open = new Map<Connection, Tracked>();
  const servers: Server[] = [];
  const bound: BoundListener[] = [];
  const skipped: SkippedListener[] = [];

  const onSocket = (socket: Socket, listener: ListenerConfig, handler: SessionHandler): void => {
    socket.setNoDelay(true);
    const connection = new Connection(socket, {
      log: log.child({ protocol: listener.protocol, port: socket.localPort }),
      tlsMode: listener.tls,
      ...(options.closeLingerMs === undefined ? {} : { closeLingerMs: options.closeLingerMs }),
    });
    const admitted = admission.admit(connection.remoteAddress);
    const tracked: Tracked = { handler, phase: "handshake" };
    open.set(connection, tracked);
    void connection.closed.then(() => {
      open.delete(connection);
      if (admitted.admitted) admitted.release();
      connection.log.debug("connection.closed", { bytesIn: connection.bytesIn, bytesOut: connection.bytesOut });
    });
    connection.log.debug("connection.accepted", { localPort: connection.localPort });
    void runConnection(connection, listener, tracked, admitted.admitted ? null : admitted.reason, options);
  };

  try {
    for (const listener of options.listeners) {
      const handler = options.handlerFor(listener.protocol);
      if (handler === null) {
        skipped.push({ ...listener, reason: `no ${listener.protocol} server is available` });
        log.warn("listener.skipped", { ...listener, reason: "no handler for the protocol" });
        continue;
      }
      const server = createServer({ allowHalfOpen: false }, (socket) => onSocket(socket, listener, handler));
      const port = await listenWithFallback(server, listener, options.portFallbackOffset, log);
      server.on("error", (error) => log.error("listener.error", { protocol: listener.protocol, port, error }));
      servers.push(server);
      bound.push({ protocol: listener.protocol, address: listener.address, port, tls: listener.tls, requestedPort: listener.port });
      log.info("listener.bound", { protocol: listener.protocol, address: listener.address, port, requestedPort: listener.port, tls: listener.tls });
    }
  } catch (error) {
    for (const server of servers) server.close();
    throw error;
  }

  const close = async (): Promise<void> => {
    for (const server of servers) if (server.listening) server.close();
  };

  const drain = async (graceMs: number): Promise<void> => {
    await close();
    const sessions = [...open.entries()];
    for (const [connection, tracked] of sessions) {
      if (tracked.phase !== "session") {
        connection.destroy();
        continue;
      }
      void sayGoodbye(connection, tracked.handler);
    }
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(sessions.map(([connection]) => connection.closed)), graceOver]);
    clearTimeout(timer);
    const left = [...open.keys()];
    if (left.length > 0) log.warn("listener.drain_forced", { connections: left.length, graceMs });
    for (const connection of left) connection.destroy();
    await Promise.all(left.map((connection) => connection.closed));
  };

  return { bound, skipped, close, connectionCount: () => open.size, drain };
}

/** One connection from accept to close: implicit TLS, then refusal or the protocol session. */
async function runConnection(
  connection: Connection,
  listener: ListenerConfig,
  tracked: Tracked,
  refusal: "too-many-from-ip" | "too-many-total" | null,
  options: StartListenersOptions,
): Promise<void> {
  try {
    if (listener.tls === "implicit") await connection.upgradeToTls(options.tls.current(), options.limits.tlsHandshakeTimeout);
    if (refusal !== null) {
      tracked.phase = "refusing";
      connection.log.info("connection.refused", { reason: refusal });
      await tracked.handler.refuse?.(connection, refusal);
      await connection.close();
      return;
    }
    tracked.phase = "session";
    await tracked.handler.accept(connection);
    if (!connection.isClosed) await connection.close();
  } catch (error) {
    if (error instanceof TlsHandshakeError) connection.log.debug("tls.handshake_failed", { error: error.message });
    else if (!connection.isClosed) connection.log.error("session.failed", { error });
    else connection.log.debug("session.ended_by_close", { error });
    connection.destroy();
  }
}

async function sayGoodbye(connection: Connection, handler: SessionHandler): Promise<void> {
  try {
    if (handler.shutdown) await handler.shutdown(connection);
    else await connection.close();
  } catch (error) {
    connection.log.debug("shutdown.failed", { error });
    connection.destroy();
  }
}

/** Binds the configured port; on EACCES/EADDRINUSE tries port + offset once. Returns the port bound. */
async function listenWithFallback(server: Server, listener: ListenerConfig, offset: number, log: Logger): Promise<number> {
  try {
    return await listen(server, listener.address, listener.port);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unknown";
    const fallback = listener.port + offset;
    const canFallBack = (code === "EACCES" || code === "EADDRINUSE") && offset > 0 && listener.port !== 0 && fallback <= 65_535;
    if (!canFallBack) {
      throw new ListenerBindError(`cannot listen on ${listener.address}:${listener.port} for ${listener.protocol}: ${code}`, { cause: error });
    }
    log.warn("listener.port_fallback", { protocol: listener.protocol, address: listener.address, requestedPort: listener.port, port: fallback, code });
    try {
      return await listen(server, listener.address, fallback);
    } catch (second) {
      const secondCode = (second as NodeJS.ErrnoException).code ?? "unknown";
      throw new ListenerBindError(
        `cannot listen on ${listener.address}:${listener.port} for ${listener.protocol} (${code}) nor on fallback port ${fallback} (${secondCode})`,
        { cause: second },
      );
    }
  }
}

function listen(server: Server, address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.removeListener("listening", onListening);
      reject(error);
    };
    const onListening = () => {
      server.removeListener("error", onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen({ port, host: address });
  });
}
