// The listener framework shared by the protocols: binds each configured port ("::" is IPv6 and
// IPv4; a refused port fails the start unless the operator opted into moving it by an offset), counts connections against the
// per-IP and total limits before any protocol or TLS work, performs the implicit-TLS handshake
// (RFC 8314 §3), and hands each Connection to its protocol's SessionHandler. It also stops
// accepting and drains open sessions at shutdown. A failing session never takes the process down.

import { createServer, isIPv6, type AddressInfo, type Server, type Socket } from "node:net";
import type { Limits, ListenerConfig, ListenerProtocol, ListenerTls } from "../config/index.js";
import { Connection, ConnectionLimits, ProxyHeaderError, TlsHandshakeError, createNetworkList, readProxyHeader, type NetworkList, type SessionHandler, type TlsCipherKind, type TlsContextProvider } from "../net/index.js";
import type { Logger } from "../observability/log.js";

export interface BoundListener {
  protocol: ListenerProtocol;
  address: string;
  /** The port actually listened on: the configured one, port + offset after a fallback, or the one picked for 0. */
  port: number;
  tls: ListenerTls;
  requestedPort: number;
  /** The sockets serving it, as "[::]:25" or "127.0.0.1:25"; "::" may need a second socket on 0.0.0.0. */
  endpoints: string[];
  /** Why the configured port was refused (EACCES, EADDRINUSE) when the fallback offset moved it. */
  movedBecause?: string;
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
  /** Open connections per "protocol:port" (metrics). */
  openByListener(): Record<string, number>;
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
  /** Added to a refused port (EACCES, EADDRINUSE) to try once more; 0 (the default in config) fails instead. */
  portFallbackOffset: number;
  /**
   * For "::": let one IPv6 socket take IPv4 too (default true). False binds a second socket on
   * 0.0.0.0, as happens by itself where the OS keeps IPv6 sockets IPv6-only.
   */
  dualStack?: boolean;
  /** How long a closing connection waits for the peer before it is destroyed. Default 5s. */
  closeLingerMs?: number;
  /** Told of accepted connections, implicit-TLS handshakes and started sessions (observability/metrics.ts). */
  observer?: ListenerObserver;
  /**
   * PROXY protocol (net/proxy-protocol.ts): peers (CIDR) that must send a header naming the client
   * (server.proxy_protocol_trusted), and how long they have to send it. Empty: off. A listener with
   * proxy_protocol = false ignores it.
   */
  proxyProtocol?: { trusted: readonly string[]; timeoutMs: number };
  /** Nodes sharing one store: the per-IP limit counts their connections too (cluster-connections.ts). */
  sharedCounts?: SharedConnectionCounts;
}

/** Other nodes' connections per client group, and this node's published to them. */
export interface SharedConnectionCounts {
  elsewhere(group: string): number;
  /** Given this node's live counts once; told of each change so that a burst is published soon. */
  track(local: () => ReadonlyMap<string, number>): void;
  changed(): void;
}

export interface ListenerObserver {
  connectionAccepted(protocol: ListenerProtocol, port: number): void;
  tlsHandshake(protocol: ListenerProtocol, ok: boolean): void;
  sessionStarted(protocol: ListenerProtocol, port: number): void;
}

/** Port 25 takes mail from other servers (tls.ciphers_mx); every other listener serves mail apps (tls.ciphers_client). */
export function cipherKindOf(protocol: ListenerProtocol): TlsCipherKind {
  return protocol === "smtp" ? "mx" : "client";
}

export class ListenerBindError extends Error {
  override readonly name = "ListenerBindError";
}

type Phase = "handshake" | "refusing" | "session";
interface Tracked {
  handler: SessionHandler;
  /** "protocol:port" of the listener. */
  key?: string;
  phase: Phase;
}

export async function startListeners(options: StartListenersOptions): Promise<ListenerSet> {
  const { log } = options;
  const shared = options.sharedCounts;
  const admission = new ConnectionLimits({ perIp: options.limits.connectionsPerIp, total: options.limits.connectionsTotal, ...(shared ? { elsewhere: (group: string) => shared.elsewhere(group) } : {}) });
  shared?.track(() => admission.groups());
  const open = new Map<Connection, Tracked>();
  const servers: Server[] = [];
  const bound: BoundListener[] = [];
  const skipped: SkippedListener[] = [];

  const proxyTrusted: NetworkList | null = (options.proxyProtocol?.trusted.length ?? 0) > 0 ? createNetworkList(options.proxyProtocol!.trusted) : null;
  /** Sockets of trusted balancers whose PROXY header has not arrived yet: not yet counted, destroyed at drain. */
  const awaitingHeader = new Set<Socket>();

  const onSocket = (socket: Socket, listener: ListenerConfig, handler: SessionHandler): void => {
    socket.setNoDelay(true);
    const proxied = proxyTrusted !== null && listener.proxyProtocol !== false;
    if (!proxied || !proxyTrusted.contains(socket.remoteAddress ?? "")) {
      startConnection(socket, listener, handler, { refuseProxyHeader: proxied });
      return;
    }
    // A trusted balancer: nothing is sent and nothing counted until its header names the client
    // (the spec's §2: the receiver must not start processing before the header is complete).
    awaitingHeader.add(socket);
    const timeoutMs = options.proxyProtocol!.timeoutMs;
    readProxyHeader(socket, timeoutMs).then(
      (header) => {
        awaitingHeader.delete(socket);
        if (socket.destroyed) return;
        // LOCAL (the balancer's own health check) and address-less headers keep the socket's peer.
        startConnection(socket, listener, handler, header.source === null ? {} : { client: header.source });
      },
      (error: unknown) => {
        awaitingHeader.delete(socket);
        const reason = error instanceof ProxyHeaderError ? error.kind : "error";
        log.warn("proxy.header_refused", { protocol: listener.protocol, port: socket.localPort, proxy: socket.remoteAddress, reason, detail: error instanceof Error ? error.message : String(error) });
        socket.destroy();
      },
    );
  };

  const startConnection = (socket: Socket, listener: ListenerConfig, handler: SessionHandler, proxy: { client?: { address: string; port: number }; refuseProxyHeader?: boolean }): void => {
    const connection = new Connection(socket, {
      log: log.child({ protocol: listener.protocol, port: socket.localPort }),
      tlsMode: listener.tls,
      ...(options.closeLingerMs === undefined ? {} : { closeLingerMs: options.closeLingerMs }),
      ...proxy,
      // Per-name certificates (ACME) by SNI, for implicit TLS and STARTTLS alike.
      sni: (servername) => options.tls.contextFor(servername, cipherKindOf(listener.protocol)),
    });
    const admitted = admission.admit(connection.remoteAddress);
    if (admitted.admitted) shared?.changed();
    const tracked: Tracked = { handler, phase: "handshake", key: `${listener.protocol}:${socket.localPort ?? 0}` };
    open.set(connection, tracked);
    void connection.closed.then(() => {
      open.delete(connection);
      if (admitted.admitted) {
        admitted.release();
        shared?.changed();
      }
      connection.log.debug("connection.closed", { bytesIn: connection.bytesIn, bytesOut: connection.bytesOut });
    });
    connection.log.debug("connection.accepted", { localPort: connection.localPort, ...(connection.proxiedBy === null ? {} : { proxy: connection.proxiedBy }) });
    options.observer?.connectionAccepted(listener.protocol, socket.localPort ?? 0);
    void runConnection(connection, listener, tracked, admitted.admitted ? null : admitted.reason, options, proxy.refuseProxyHeader === true);
  };

  try {
    for (const listener of options.listeners) {
      const handler = options.handlerFor(listener.protocol);
      if (handler === null) {
        skipped.push({ ...listener, reason: `no ${listener.protocol} server is available` });
        log.warn("listener.skipped", { ...listener, reason: "no handler for the protocol" });
        continue;
      }
      const makeServer = () => createServer({ allowHalfOpen: false }, (socket) => onSocket(socket, listener, handler));
      const sockets = await bindListener(listener, options.portFallbackOffset, makeServer, options.dualStack ?? true, log);
      const { port, endpoints } = sockets;
      for (const server of sockets.servers) {
        server.on("error", (error) => log.error("listener.error", { protocol: listener.protocol, port, error }));
        servers.push(server);
      }
      const entry: BoundListener = { protocol: listener.protocol, address: listener.address, port, tls: listener.tls, requestedPort: listener.port, endpoints };
      if (sockets.movedBecause !== undefined) entry.movedBecause = sockets.movedBecause;
      bound.push(entry);
      log.info("listener.bound", { protocol: listener.protocol, endpoints, port, requestedPort: listener.port, tls: listener.tls });
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
    for (const socket of awaitingHeader) socket.destroy();
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

  const openByListener = (): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const tracked of open.values()) if (tracked.key !== undefined) counts[tracked.key] = (counts[tracked.key] ?? 0) + 1;
    return counts;
  };
  return { bound, skipped, close, connectionCount: () => open.size, openByListener, drain };
}

/** One connection from accept to close: implicit TLS, then refusal or the protocol session. */
async function runConnection(
  connection: Connection,
  listener: ListenerConfig,
  tracked: Tracked,
  refusal: "too-many-from-ip" | "too-many-total" | null,
  options: StartListenersOptions,
  refuseProxyHeader: boolean,
): Promise<void> {
  try {
    if (listener.tls === "implicit") {
      // The client speaks first in TLS: let its first bytes pass the PROXY header check before
      // OpenSSL reads them, so that a header from an untrusted peer is named as such in the log.
      if (refuseProxyHeader) await connection.waitForInput(options.limits.tlsHandshakeTimeout);
      await connection.upgradeToTls(options.tls.current(cipherKindOf(listener.protocol)), options.limits.tlsHandshakeTimeout);
      options.observer?.tlsHandshake(listener.protocol, true);
    }
    if (refusal !== null) {
      tracked.phase = "refusing";
      connection.log.info("connection.refused", { reason: refusal });
      await tracked.handler.refuse?.(connection, refusal);
      await connection.close();
      return;
    }
    tracked.phase = "session";
    options.observer?.sessionStarted(listener.protocol, connection.localPort);
    await tracked.handler.accept(connection);
    if (!connection.isClosed) await connection.close();
  } catch (error) {
    // A failed handshake was logged by Connection.upgradeToTls, with its reason.
    if (error instanceof TlsHandshakeError) options.observer?.tlsHandshake(listener.protocol, false);
    else {
      if (!connection.isClosed) connection.log.error("session.failed", { error });
      else connection.log.debug("session.ended_by_close", { error });
    }
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

/** The listener address that means every address of the machine, IPv6 and IPv4 (the default). */
export const EVERY_ADDRESS = "::";

interface BoundSockets {
  servers: Server[];
  port: number;
  endpoints: string[];
}

/**
 * Binds the configured port. When it is refused (EACCES, EADDRINUSE) and the operator opted in with
 * server.port_fallback_offset, tries port + offset once; otherwise fails saying which port, why,
 * and how to fix it.
 */
async function bindListener(
  listener: ListenerConfig,
  offset: number,
  makeServer: () => Server,
  dualStack: boolean,
  log: Logger,
): Promise<BoundSockets & { movedBecause?: string }> {
  try {
    return await bindPort(listener, listener.port, makeServer, dualStack, log);
  } catch (error) {
    const code = errnoCode(error);
    const fallback = listener.port + offset;
    const canFallBack = (code === "EACCES" || code === "EADDRINUSE") && offset > 0 && listener.port !== 0 && fallback <= 65_535;
    if (!canFallBack) throw new ListenerBindError(bindFailureMessage(listener, listener.port, code), { cause: error });
    log.warn("listener.port_fallback", { protocol: listener.protocol, address: listener.address, requestedPort: listener.port, port: fallback, code });
    try {
      return { ...(await bindPort(listener, fallback, makeServer, dualStack, log)), movedBecause: code };
    } catch (second) {
      throw new ListenerBindError(
        `${bindFailureMessage(listener, listener.port, code)}; the fallback port ${fallback} (server.port_fallback_offset = ${offset}) failed too: ${errnoCode(second)}`,
        { cause: second },
      );
    }
  }
}

/**
 * The sockets for one listener on one port. "::" is every address: one dual-stack socket where the
 * OS lets an IPv6 socket take IPv4 too (Linux, FreeBSD, macOS: IPv4 clients arrive as ::ffff:a.b.c.d,
 * which Connection shows as a.b.c.d), a second socket on 0.0.0.0 where it does not (OpenBSD), and
 * 0.0.0.0 alone on a machine without IPv6.
 */
async function bindPort(listener: ListenerConfig, port: number, makeServer: () => Server, dualStack: boolean, log: Logger): Promise<BoundSockets> {
  if (listener.address !== EVERY_ADDRESS) {
    const server = makeServer();
    const bound = await listen(server, listener.address, port, false);
    return { servers: [server], port: bound, endpoints: [formatEndpoint(listener.address, bound)] };
  }
  const v6 = makeServer();
  let bound: number;
  try {
    bound = await listen(v6, EVERY_ADDRESS, port, !dualStack);
  } catch (error) {
    const code = errnoCode(error);
    if (code !== "EAFNOSUPPORT" && code !== "EADDRNOTAVAIL" && code !== "EPROTONOSUPPORT") throw error;
    log.info("listener.ipv6_unavailable", { protocol: listener.protocol, port, code });
    const v4 = makeServer();
    const bound4 = await listen(v4, "0.0.0.0", port, false);
    return { servers: [v4], port: bound4, endpoints: [formatEndpoint("0.0.0.0", bound4)] };
  }
  // Whether the IPv6 socket also took IPv4 shows in binding 0.0.0.0 on the same port: refused
  // (EADDRINUSE) when the port is already ours for IPv4, accepted when the OS keeps the two apart.
  const v4 = makeServer();
  try {
    await listen(v4, "0.0.0.0", bound, false);
  } catch (error) {
    if (errnoCode(error) === "EADDRINUSE") return { servers: [v6], port: bound, endpoints: [formatEndpoint(EVERY_ADDRESS, bound)] };
    v6.close();
    throw error;
  }
  return { servers: [v6, v4], port: bound, endpoints: [formatEndpoint(EVERY_ADDRESS, bound), formatEndpoint("0.0.0.0", bound)] };
}

/** "host:port", with an IPv6 address in brackets ("[::]:25"), as clients and `ss` write it. */
export function formatEndpoint(address: string, port: number): string {
  return isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Says which port could not be bound, why, and what the operator can do about it. */
export function bindFailureMessage(listener: Pick<ListenerConfig, "protocol" | "address">, port: number, code: string): string {
  const where = `cannot listen on ${formatEndpoint(listener.address, port)} for ${listener.protocol}`;
  const orFallback = "or set server.port_fallback_offset (e.g. 10000) to move refused ports up by that much";
  switch (code) {
    case "EACCES":
      return (
        `${where}: permission denied (EACCES): ports below 1024 need root or the CAP_NET_BIND_SERVICE capability. ` +
        `Start as root, or grant the capability ` +
        `(systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE; or setcap cap_net_bind_service=+ep on the node binary), ` +
        `or give this listener a port of 1024 or above in [[listeners]], ${orFallback}`
      );
    case "EADDRINUSE":
      return (
        `${where}: the port is already in use (EADDRINUSE) by another program (\`ss -ltnp 'sport = :${port}'\` shows which, ` +
        `often another mail server). Stop it, or give this listener another port or address in [[listeners]], ${orFallback}`
      );
    case "EADDRNOTAVAIL":
      return `${where}: this machine has no such address (EADDRNOTAVAIL); fix the listener's address in [[listeners]] ("::" is every address)`;
    default:
      return `${where}: ${code}`;
  }
}

function errnoCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

function listen(server: Server, address: string, port: number, ipv6Only: boolean): Promise<number> {
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
    server.listen({ port, host: address, ipv6Only });
  });
}
