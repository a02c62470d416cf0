// One client connection for one protocol session: a pull-based reader over the socket's chunks with
// back-pressure, writes that wait for 'drain', an idle deadline, byte counters, a logger carrying the
// connection id, and the server side of STARTTLS (RFC 3207, RFC 9051 §6.2.1, RFC 2595). After an
// upgrade the same object reads and writes through TLS, so a session never holds the raw socket.

import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { TLSSocket, type SecureContext } from "node:tls";
import type { Logger } from "../observability/log.js";
import { startsWithProxySignature } from "./proxy-protocol.js";

export type TlsMode = "none" | "starttls" | "implicit";

export class ConnectionClosedError extends Error {
  override readonly name = "ConnectionClosedError";
  constructor(message = "connection closed") {
    super(message);
  }
}

/** Why a TLS handshake did not complete, in words a postmaster can act on. */
export type TlsHandshakeFailure =
  | "timeout" // the client sent too little within limits.tls_handshake_timeout
  | "closed" // the client hung up during the handshake (often a scanner, or it disliked our certificate)
  | "protocol-mismatch" // no TLS version both sides accept (e.g. a TLS 1.0 client, tls.min_version)
  | "cipher-mismatch" // no cipher suite (or signature algorithm) both sides accept (tls.ciphers_*)
  | "client-alert" // the client refused us with an alert: unknown CA, bad certificate, ...
  | "not-tls" // what arrived was not a TLS ClientHello (plaintext on an implicit-TLS port, HTTP)
  | "other";

export class TlsHandshakeError extends Error {
  override readonly name = "TlsHandshakeError";
  constructor(
    message: string,
    readonly failure: TlsHandshakeFailure,
    /** OpenSSL's reason ("no shared cipher", "tlsv1 alert unknown ca"), or how long we waited. */
    readonly detail: string,
  ) {
    super(message);
  }
}

/** Sorts an OpenSSL handshake error (its code and reason) into a TlsHandshakeFailure. */
export function classifyHandshakeError(error: Error & { code?: string; reason?: string }): { failure: TlsHandshakeFailure; detail: string } {
  const reason = (error.reason ?? error.message).split(/\r?\n/)[0]!.slice(0, 200);
  const text = `${error.code ?? ""} ${reason}`.toLowerCase();
  const failure: TlsHandshakeFailure = /alert/.test(text) && !/protocol.version/.test(text)
    ? "client-alert"
    : /no.shared.cipher|no.cipher|no.shared.signature|no.suitable.signature|sigalg/.test(text)
      ? "cipher-mismatch"
      : /unsupported.protocol|version.too.low|protocol.version|unsupported.version/.test(text)
        ? "protocol-mismatch"
        : /wrong.version.number|http.request|https.proxy|packet.length|unknown.protocol|record.layer/.test(text)
          ? "not-tls"
          : "other";
  return { failure, detail: reason };
}

export interface ConnectionOptions {
  log: Logger;
  /** What the listener offers: "starttls" means the session may advertise and run STARTTLS. Default "none". */
  tlsMode?: TlsMode;
  /** How long close() waits for the peer to finish after our FIN before destroying. Default 5s. */
  closeLingerMs?: number;
  /** Reading pauses while this many received bytes wait unread. Default 256 KiB. */
  highWaterMark?: number;
  /**
   * The client as a trusted load balancer named it in a PROXY protocol header (net/proxy-protocol.ts):
   * remoteAddress/remotePort are then the client's, and `proxiedBy` the balancer's address.
   */
  client?: { address: string; port: number };
  /**
   * On a listener that takes the PROXY protocol, from a peer not trusted to send it: a connection
   * whose first bytes are a PROXY header is logged and destroyed before the session sees them.
   */
  refuseProxyHeader?: boolean;
  /**
   * The certificate for a client's SNI name (RFC 6066 §3) in upgradeToTls: a per-name certificate
   * (ACME) instead of the context passed in. Without it every client gets that context.
   */
  sni?: (servername: string) => SecureContext;
}

export class Connection {
  readonly id = randomBytes(6).toString("base64url");
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly log: Logger;
  readonly tlsMode: TlsMode;
  /** The load balancer's address when the client came through the PROXY protocol; null otherwise. */
  readonly proxiedBy: string | null;
  /** Settles (never rejects) when the socket has closed. */
  readonly closed: Promise<void>;

  private socket: Socket;
  private readonly raw: Socket;
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private ended = false;
  private isClosedFlag = false;
  private closing = false;
  private waiter: ((chunk: Buffer | null) => void) | null = null;
  private readonly drainWaiters = new Set<{ resolve: () => void; reject: (error: Error) => void }>();
  private idleTimer: NodeJS.Timeout | null = null;
  private onIdle: (() => void) | null = null;
  private received = 0;
  private sent = 0;
  private readonly closeLingerMs: number;
  private readonly highWaterMark: number;
  private readonly sni: ((servername: string) => SecureContext) | undefined;
  private markClosed!: () => void;
  /** The first bytes received, kept while they may still be the start of a PROXY header (refuseProxyHeader). */
  private sniffed: Buffer | null = null;

  constructor(socket: Socket, options: ConnectionOptions) {
    this.raw = socket;
    this.socket = socket;
    const peer = unmapIPv4(socket.remoteAddress ?? "unknown");
    this.remoteAddress = options.client?.address ?? peer;
    this.remotePort = options.client?.port ?? socket.remotePort ?? 0;
    this.proxiedBy = options.client === undefined ? null : peer;
    if (options.refuseProxyHeader === true) this.sniffed = Buffer.alloc(0);
    this.localAddress = unmapIPv4(socket.localAddress ?? "unknown");
    this.localPort = socket.localPort ?? 0;
    this.tlsMode = options.tlsMode ?? "none";
    this.closeLingerMs = options.closeLingerMs ?? 5000;
    this.highWaterMark = options.highWaterMark ?? 256 * 1024;
    this.sni = options.sni;
    this.log = options.log.child({ conn: this.id, remote: this.remoteAddress, ...(this.proxiedBy === null ? {} : { proxy: this.proxiedBy }) });
    this.closed = new Promise((resolve) => {
      this.markClosed = resolve;
    });
    // An 'error' without a listener would crash the process; a reset peer is routine, so log at debug.
    socket.on("error", (error) => this.log.debug("socket.error", { error }));
    socket.on("close", () => this.finish());
    if (socket.destroyed) this.finish();
    this.attach(socket);
  }

  get isTls(): boolean {
    return this.socket instanceof TLSSocket && this.socket.encrypted === true;
  }

  /** TLS version and cipher, for Received fields and logs; null before TLS. */
  /** The TLS socket once encrypted (channel binding, auth/sasl/channel-binding.ts), else null. */
  get tlsSocket(): TLSSocket | null {
    return this.socket instanceof TLSSocket && this.socket.encrypted === true ? this.socket : null;
  }

  get tlsDetails(): { protocol: string; cipher: string } | null {
    if (!(this.socket instanceof TLSSocket)) return null;
    return { protocol: this.socket.getProtocol() ?? "unknown", cipher: this.socket.getCipher()?.name ?? "unknown" };
  }

  get isLoopback(): boolean {
    return this.remoteAddress === "::1" || this.remoteAddress.startsWith("127.");
  }

  get bytesIn(): number {
    return this.received;
  }

  get bytesOut(): number {
    return this.sent;
  }

  get isClosed(): boolean {
    return this.isClosedFlag;
  }

  /** The next chunk received, or null once the peer has finished or the connection closed. */
  read(): Promise<Buffer | null> {
    const chunk = this.queue.shift();
    if (chunk !== undefined) {
      this.queuedBytes -= chunk.length;
      if (this.queuedBytes < this.highWaterMark && this.socket.isPaused()) this.socket.resume();
      return Promise.resolve(chunk);
    }
    if (this.ended) return Promise.resolve(null);
    if (this.waiter !== null) return Promise.reject(new Error("Connection.read: a read is already pending"));
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    for (let chunk = await this.read(); chunk !== null; chunk = await this.read()) yield chunk;
  }

  /** Resolves once the bytes are accepted by the socket without exceeding its buffer. */
  write(bytes: Buffer | string): Promise<void> {
    if (this.isClosedFlag || this.closing) return Promise.reject(new ConnectionClosedError());
    const buffer = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes;
    this.sent += buffer.length;
    if (this.socket.write(buffer)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.drainWaiters.add({ resolve, reject });
    });
  }

  /**
   * Calls onExpire once if no input arrives for ms; each received chunk restarts the wait.
   * null clears the deadline. A new call replaces the previous deadline.
   */
  setIdleDeadline(ms: number | null, onExpire?: () => void): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.onIdle = null;
    if (ms === null || this.isClosedFlag) return;
    if (onExpire === undefined) throw new Error("setIdleDeadline: onExpire is required with a duration");
    this.onIdle = onExpire;
    this.idleTimer = setTimeout(() => {
      const expire = this.onIdle;
      this.idleTimer = null;
      this.onIdle = null;
      expire?.();
    }, ms);
    this.idleTimer.unref();
  }

  /**
   * Server side of STARTTLS (RFC 3207 §4.2, RFC 9051 §6.2.1, RFC 2595 §3.1): negotiates TLS within
   * timeoutMs; from then on read() and write() go through TLS. Send the go-ahead reply first, and drop
   * the session's own framing buffer (LineReader.discardBuffered): plaintext already parsed must never
   * be executed. Chunks received but not yet read are handed to TLS, not to the session: they are
   * either the client's handshake (sent after it saw the reply) or injected plaintext, which then
   * fails the handshake instead of being executed. If `reply` is given it is written here, after
   * reading from the plaintext socket has stopped. On failure the connection is destroyed and a
   * TlsHandshakeError (or ConnectionClosedError) is thrown.
   */
  async upgradeToTls(context: SecureContext, timeoutMs: number, reply?: Buffer | string): Promise<void> {
    if (this.socket !== this.raw) throw new Error("upgradeToTls: the connection already uses TLS");
    if (this.isClosedFlag) throw new ConnectionClosedError();
    const raw = this.raw;
    raw.removeListener("data", this.onData);
    raw.removeListener("end", this.onEnd);
    raw.removeListener("drain", this.onDrain);
    raw.pause();
    // Give unread chunks back to the socket, in order; the TLS socket reads them as handshake input.
    for (const chunk of this.queue.reverse()) raw.unshift(chunk);
    this.queue.length = 0;
    this.queuedBytes = 0;
    if (reply !== undefined) {
      const bytes = typeof reply === "string" ? Buffer.from(reply, "utf8") : reply;
      this.sent += bytes.length;
      // Wait until the reply reached the kernel, so none of it is still queued when TLS takes the socket.
      try {
        await new Promise<void>((resolve, reject) => raw.write(bytes, (error) => (error ? reject(new ConnectionClosedError(error.message)) : resolve())));
      } catch (error) {
        this.destroy();
        throw error;
      }
    }

    const sni = this.sni;
    const secure = new TLSSocket(raw, {
      isServer: true,
      secureContext: context,
      ...(sni === undefined ? {} : { SNICallback: (servername: string, callback: (error: Error | null, context?: SecureContext) => void) => callback(null, sni(servername)) }),
    });
    secure.on("error", (error) => this.log.debug("tls.error", { error }));
    secure.on("close", () => this.finish());
    this.socket = secure;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new TlsHandshakeError(`TLS handshake not finished within ${timeoutMs} ms`, "timeout", `${timeoutMs} ms`)), timeoutMs);
        const settle = (error: Error | null) => {
          clearTimeout(timer);
          secure.removeListener("secure", onSecure);
          secure.removeListener("error", onError);
          secure.removeListener("close", onClose);
          if (error === null) resolve();
          else reject(error);
        };
        const onSecure = () => settle(null);
        const onError = (error: Error) => {
          const { failure, detail } = classifyHandshakeError(error);
          settle(new TlsHandshakeError(`TLS handshake failed: ${detail}`, failure, detail));
        };
        const onClose = () => settle(new TlsHandshakeError("connection closed during the TLS handshake", "closed", "closed by the client"));
        secure.once("secure", onSecure);
        secure.once("error", onError);
        secure.once("close", onClose);
      });
    } catch (error) {
      // At info, not debug: a client that cannot talk to us (old TLS, our ciphers, our self-signed
      // certificate) is what a postmaster looks for when a user says "it cannot connect".
      if (error instanceof TlsHandshakeError) this.log.info("tls.handshake_failed", { reason: error.failure, detail: error.detail });
      this.destroy();
      throw error;
    }
    this.attach(secure);
    this.log.debug("tls.established", { ...this.tlsDetails });
  }

  /** Sends what is buffered, then closes; destroys if the peer does not finish within the linger time. */
  close(): Promise<void> {
    if (!this.isClosedFlag && !this.closing) {
      this.closing = true;
      this.setIdleDeadline(null);
      this.socket.end();
      const linger = setTimeout(() => this.destroy(), this.closeLingerMs);
      linger.unref();
      void this.closed.then(() => clearTimeout(linger));
    }
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
    if (this.socket !== this.raw) this.raw.destroy();
  }

  private attach(socket: Socket): void {
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("drain", this.onDrain);
    socket.resume();
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.sniffed !== null && this.sniffProxyHeader(chunk)) return;
    this.received += chunk.length;
    this.idleTimer?.refresh();
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      waiter(chunk);
      return;
    }
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    if (this.queuedBytes >= this.highWaterMark) this.socket.pause();
  };

  /**
   * True when the first bytes are a PROXY header from a peer not trusted to send one: logged and
   * destroyed, so a client cannot choose the address it is known by. Decided within 12 bytes.
   */
  private sniffProxyHeader(chunk: Buffer): boolean {
    const head = Buffer.concat([this.sniffed!, chunk.subarray(0, 16)]);
    const verdict = startsWithProxySignature(head);
    if (verdict === "maybe") {
      this.sniffed = head;
      return false;
    }
    this.sniffed = null;
    if (verdict === "no") return false;
    this.log.warn("proxy.untrusted_header", { reason: "PROXY protocol header from a peer not in server.proxy_protocol_trusted" });
    this.destroy();
    return true;
  }

  /**
   * Waits (at most timeoutMs) until the client has sent something, without consuming it: used before
   * an implicit-TLS handshake so that the first bytes pass the PROXY header check (refuseProxyHeader).
   */
  async waitForInput(timeoutMs: number): Promise<void> {
    if (this.queue.length > 0 || this.ended) return;
    if (this.waiter !== null) throw new Error("Connection.waitForInput: a read is already pending");
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        this.waiter = (chunk) => {
          if (chunk !== null) {
            this.queue.unshift(chunk);
            this.queuedBytes += chunk.length;
          }
          resolve();
        };
      });
    } finally {
      clearTimeout(timer);
      this.waiter = null;
    }
  }

  private readonly onEnd = (): void => {
    this.endInput();
  };

  private readonly onDrain = (): void => {
    for (const waiter of this.drainWaiters) waiter.resolve();
    this.drainWaiters.clear();
  };

  private endInput(): void {
    this.ended = true;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.(null);
  }

  private finish(): void {
    if (this.isClosedFlag) return;
    this.isClosedFlag = true;
    this.setIdleDeadline(null);
    this.endInput();
    for (const waiter of this.drainWaiters) waiter.reject(new ConnectionClosedError());
    this.drainWaiters.clear();
    this.markClosed();
  }
}

/** "::ffff:192.0.2.1" (an IPv4 client on a dual-stack socket) reads as "192.0.2.1". */
function unmapIPv4(address: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
}
