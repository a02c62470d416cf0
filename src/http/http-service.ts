// The one HTTP(S) service ([http] in the config): one fastify app, served on a plain HTTP port and
// an HTTPS port whose certificates come from the reloadable TLS contexts (net/tls-context.ts, SNI
// per name, so a SIGHUP reload or a renewed certificate reaches new connections without restart).
// A port that cannot be bound (80/443 already held by a web server, or no privilege) is logged as
// a clear warning and skipped: the mail listeners keep running, and the operator can put the HTTP
// side behind nginx/Caddy on http.http_port with http.trusted_proxies (README, "Behind a reverse proxy").
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { Socket } from "node:net";
import { TLSSocket, type SecureContext, type SecureContextOptions } from "node:tls";
import { MAX_CLIENT_HELLO_RECORD, createNetworkList, peekClientHello, readProxyHeader, startsWithProxySignature, type AcmeChallenges } from "../net/index.js";
import type { FastifyInstance } from "fastify";
import { registerAcmeChallenge } from "./acme-challenge.js";
import { registerAutoconfig } from "./autoconfig.js";
import { registerAutodiscover } from "./autodiscover.js";
import type { HttpContext } from "./context.js";
import { registerHealth } from "./health.js";
import { registerMetrics } from "./metrics.js";
import { registerMobileconfig } from "./mobileconfig.js";
import { registerMtaSts } from "./mta-sts.js";
import { registerTlsReports } from "./tls-rpt.js";
import { registerAdminApi } from "./admin-api.js";
import { registerAdminPages } from "./admin-pages.js";
import { registerAccountPages } from "./account-pages.js";

export interface BoundHttpPort {
  scheme: "http" | "https";
  address: string;
  port: number;
}

export interface HttpService {
  bound: BoundHttpPort[];
  /** Ports configured but not bound, with the reason (already logged). */
  unavailable: { scheme: "http" | "https"; port: number; reason: string }[];
  /** The routes, built now if no request has come yet (the OpenAPI test lists them). */
  routes(): Promise<FastifyInstance>;
  close(): Promise<void>;
}

/** The routes, without sockets: every route family registers itself. */
export async function buildHttpApp(context: HttpContext): Promise<FastifyInstance> {
  const settings = context.settings;
  // fastify and its JSON-schema compilers (ajv) weigh ~17 MiB once loaded; imported here, they
  // are loaded with the first request rather than at start (idle RSS, issue #13).
  const { default: Fastify } = await import("fastify");
  const app = Fastify({
    logger: false,
    bodyLimit: settings.bodyLimit,
    // Outlook asks for /Autodiscover/Autodiscover.xml and /autodiscover/autodiscover.xml alike.
    routerOptions: { caseSensitive: false, maxParamLength: 400 },
    // X-Forwarded-* believed only from the configured proxies; from anyone else they are ignored.
    trustProxy: settings.trustedProxies.length > 0 ? settings.trustedProxies : false,
    return503OnClosing: true,
    rewriteUrl: (request) => originForm(request),
  });
  app.addHook("onResponse", async (request, reply) => {
    if (reply.statusCode >= 500) context.log.warn("http.error", { method: request.method, url: request.url.slice(0, 200), status: reply.statusCode, ip: request.ip });
  });
  app.setErrorHandler((error: { statusCode?: number; message?: string }, request, reply) => {
    const status = typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) context.log.error("http.handler_failed", { url: request.url.slice(0, 200), error: error.message ?? String(error) });
    void reply.code(status).type("text/plain").send(status >= 500 ? "internal error\n" : `${error.message ?? "bad request"}\n`);
  });
  app.setNotFoundHandler((_request, reply) => void reply.code(404).type("text/plain").send("not found\n"));
  registerHealth(app, context);
  registerAutoconfig(app, context);
  registerAutodiscover(app, context);
  registerMobileconfig(app, context);
  registerMtaSts(app, context);
  registerMetrics(app, context);
  registerAcmeChallenge(app, context);
  registerTlsReports(app, context);
  registerAdminApi(app, context);
  registerAdminPages(app, context);
  registerAccountPages(app, context);
  await app.ready();
  return app;
}

/**
 * RFC 9112 §3.2.2: a server MUST accept the absolute-form request target ("GET http://host/path"),
 * which is what a client configured with an HTTP proxy sends (Thunderbird's account setup behind
 * one, our e2e test among them); its authority then replaces Host. Routes see the origin form.
 */
export function originForm(request: { url?: string | undefined; headers: Record<string, string | string[] | undefined> }): string {
  const url = request.url ?? "/";
  if (url.startsWith("/")) return url;
  const match = /^https?:\/\/([^/?#@\s]+)([/?][^#]*)?$/i.exec(url);
  if (match === null) return url;
  request.headers.host = match[1]!.toLowerCase();
  const rest = match[2] ?? "/";
  return rest.startsWith("?") ? `/${rest}` : rest;
}

/** The longest a connection is held for its first bytes (PROXY check, ClientHello peek). */
const MAX_PEEK_MS = 10_000;

/** What may stand in front of a server's own connection handling. */
interface ConnectionFront {
  proxyProtocol?: { trusted: readonly string[]; timeoutMs: number } | undefined;
  /** HTTPS only: answers ACME TLS-ALPN-01 validations (RFC 8737) before the ordinary TLS server. */
  acmeChallenges?: AcmeChallenges | undefined;
  /** How long a client has for its first bytes (the ClientHello) when they are looked at. */
  firstBytesTimeoutMs: number;
}

/**
 * Puts the PROXY protocol (net/proxy-protocol.ts) and, on HTTPS, the ACME TLS-ALPN-01 responder in
 * front of an HTTP(S) server: the server's own 'connection' handling (HTTP parsing, or the TLS
 * handshake) starts only once a trusted balancer's header is read, and the client it names becomes
 * the socket's remoteAddress, which fastify's request.ip reads. From other peers, a connection
 * opening with a header is refused. Then, while a TLS-ALPN-01 challenge is pending (on any node,
 * with a shared store), a ClientHello offering "acme-tls/1" for the challenged name gets the
 * challenge certificate and nothing else.
 */
function installConnectionFront(server: HttpServer, scheme: "http" | "https", front: ConnectionFront, log: HttpContext["log"]): void {
  const proxy = front.proxyProtocol !== undefined && front.proxyProtocol.trusted.length > 0 ? front.proxyProtocol : null;
  const challenges = scheme === "https" ? (front.acmeChallenges ?? null) : null;
  if (proxy === null && challenges === null) return;
  const trusted = proxy === null ? null : createNetworkList(proxy.trusted);
  // Each connection being looked at is held here, outside the server's own timeouts.
  const peekTimeoutMs = Math.min(front.firstBytesTimeoutMs, MAX_PEEK_MS);
  const handlers = server.listeners("connection") as ((socket: Socket) => void)[];
  server.removeAllListeners("connection");
  // Until the server's own handling has the socket, nothing else listens for its errors: a client
  // resetting mid-ClientHello or mid-header would raise an unhandled 'error' and end the process.
  const onEarlyError = function (this: Socket, error: Error): void {
    log.debug("http.connection_error_before_handover", { scheme, remote: this.remoteAddress, error: error.message });
    this.destroy();
  };
  const handOver = (socket: Socket): void => {
    socket.removeListener("error", onEarlyError);
    // Node's HTTP parser would read the kernel socket directly ("consume" its handle), skipping the
    // bytes we read and put back (unshift); marked as consumed, it reads through the stream instead.
    const handle = (socket as Socket & { _handle?: { _consumed?: boolean } })._handle;
    if (scheme === "http" && handle !== undefined && handle !== null) handle._consumed = true;
    for (const handler of handlers) handler.call(server, socket);
    // We paused it to put bytes back; the HTTP parser now listens for 'data'.
    if (scheme === "http") socket.resume();
  };
  const clients = new WeakMap<Socket, { address: string; port: number }>();
  const pin = (socket: Socket, client: { address: string; port: number }): void => {
    Object.defineProperty(socket, "remoteAddress", { value: client.address, configurable: true });
    Object.defineProperty(socket, "remotePort", { value: client.port, configurable: true });
  };
  if (scheme === "https" && proxy !== null) {
    // The TLS socket asks the kernel for its peer, not the socket it wraps (its _parent), so the
    // client is pinned on it too, before the request handling reads it.
    server.prependListener("secureConnection", (secure: Socket & { _parent?: Socket }) => {
      const client = secure._parent === undefined ? undefined : clients.get(secure._parent);
      if (client !== undefined) pin(secure, client);
    });
  }
  const afterProxy = (socket: Socket, first: Buffer | null): void => {
    if (challenges === null || !challenges.mayAnswerAlpn) {
      if (first !== null) socket.unshift(first);
      handOver(socket);
      return;
    }
    void answerAlpnChallenge(socket, first, challenges, peekTimeoutMs, log).then((handled) => {
      if (!handled && !socket.destroyed) handOver(socket);
    });
  };
  server.on("connection", (socket: Socket) => {
    socket.on("error", onEarlyError);
    const peer = socket.remoteAddress ?? "";
    if (trusted === null) {
      afterProxy(socket, null);
      return;
    }
    if (!trusted.contains(peer)) {
      // The client speaks first in HTTP and TLS: look at its first bytes before the server does.
      const timer = setTimeout(() => socket.destroy(), peekTimeoutMs);
      timer.unref();
      socket.once("data", (chunk: Buffer) => {
        clearTimeout(timer);
        socket.pause();
        if (startsWithProxySignature(chunk) === "yes") {
          log.warn("proxy.untrusted_header", { scheme, remote: peer, reason: "PROXY protocol header from a peer not in server.proxy_protocol_trusted" });
          socket.destroy();
          return;
        }
        afterProxy(socket, chunk);
      });
      return;
    }
    readProxyHeader(socket, proxy!.timeoutMs).then(
      (header) => {
        if (socket.destroyed) return;
        if (header.source !== null) {
          clients.set(socket, header.source);
          pin(socket, header.source);
        }
        afterProxy(socket, null);
      },
      (error: unknown) => {
        log.warn("proxy.header_refused", { scheme, proxy: peer, detail: error instanceof Error ? error.message : String(error) });
        socket.destroy();
      },
    );
  });
}

/**
 * Reads the ClientHello; when it offers "acme-tls/1" (RFC 8737 §3) for a name with a pending
 * challenge, completes a handshake with the challenge certificate and closes: true. Anything else
 * is put back for the ordinary TLS server: false. A client offering acme-tls/1 for a name with
 * no pending challenge is closed (it is a validation that has nothing to validate).
 */
async function answerAlpnChallenge(socket: Socket, first: Buffer | null, challenges: AcmeChallenges, timeoutMs: number, log: HttpContext["log"]): Promise<boolean> {
  let received = first ?? Buffer.alloc(0);
  let peek = peekClientHello(received);
  if (peek.status === "incomplete") {
    socket.resume();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      function done(): void {
        clearTimeout(timer);
        socket.removeListener("data", onData);
        socket.removeListener("close", done);
        socket.pause();
        resolve();
      }
      function onData(chunk: Buffer): void {
        received = Buffer.concat([received, chunk]);
        peek = peekClientHello(received);
        if (peek.status !== "incomplete" || received.length > MAX_CLIENT_HELLO_RECORD) done();
      }
      socket.on("data", onData);
      socket.once("close", done);
    });
  }
  if (peek.status === "incomplete" && received.length <= MAX_CLIENT_HELLO_RECORD) {
    // No full ClientHello in time (or the peer went away): not a client worth a TLS handshake.
    socket.destroy();
    return true;
  }
  if (received.length > 0) socket.unshift(received);
  if (peek.status !== "complete" || !peek.alpn.includes("acme-tls/1")) return false;
  let context: SecureContext | undefined;
  try {
    // With a shared store the order may be another node's (net/acme.ts, docs/scale-out.md).
    context = peek.serverName === null ? undefined : await challenges.alpnContextAnywhere(peek.serverName, socket.remoteAddress ?? "");
  } catch (error) {
    log.warn("acme.alpn_lookup_failed", { serverName: peek.serverName, error: error instanceof Error ? error.message : String(error) });
  }
  if (context === undefined) {
    log.info("acme.alpn_unexpected", { serverName: peek.serverName, remote: socket.remoteAddress });
    socket.destroy();
    return true;
  }
  const secure = new TLSSocket(socket, { isServer: true, secureContext: context, ALPNProtocols: ["acme-tls/1"] });
  secure.on("error", () => secure.destroy());
  secure.once("secure", () => {
    log.info("acme.alpn_answered", { serverName: peek.status === "complete" ? peek.serverName : null, remote: socket.remoteAddress });
    secure.end();
  });
  const timer = setTimeout(() => secure.destroy(), timeoutMs);
  timer.unref();
  secure.once("close", () => clearTimeout(timer));
  return true;
}

function errnoCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : undefined;
}

export interface StartHttpOptions {
  context: HttpContext;
  /** The HTTPS certificates by SNI name (TlsContextProvider.sniCallback). */
  sniCallback(servername: string, callback: (error: Error | null, context?: SecureContext) => void): void;
  /**
   * The certificate for a client that sends no SNI (a browser at https://<ip>/, RFC 6066 §3 allows
   * no IP literal in server_name): without it Node's HTTPS server has no default certificate and
   * such a handshake fails. `onChange` says when the options change (reload, renewal).
   */
  defaultTls?: { options(): SecureContextOptions; onChange(listener: () => void): () => void };
  /** Called for each HTTPS handshake that fails (metrics). */
  onTlsError?(error: Error): void;
  /** PROXY protocol from these balancers (server.proxy_protocol_trusted), as on the mail listeners. */
  proxyProtocol?: { trusted: readonly string[]; timeoutMs: number };
}

export async function startHttpService(options: StartHttpOptions): Promise<HttpService> {
  const { context } = options;
  const settings = context.settings;
  // The app is built on the first request (buildHttpApp says why); requests that arrive while it
  // is being built wait for it. Their bodies stay buffered meanwhile: nothing reads them yet.
  let app: FastifyInstance | null = null;
  let building: Promise<FastifyInstance> | null = null;
  const ensureApp = (): Promise<FastifyInstance> =>
    (building ??= buildHttpApp(context).then(
      (built) => (app = built),
      (error: unknown) => {
        building = null;
        throw error;
      },
    ));
  const route = (req: IncomingMessage, res: ServerResponse): void => {
    if (app !== null) {
      app.routing(req, res);
      return;
    }
    ensureApp().then(
      (built) => built.routing(req, res),
      (error: unknown) => {
        context.log.error("http.handler_failed", { url: (req.url ?? "").slice(0, 200), error: error instanceof Error ? error.message : String(error) });
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end("internal error\n");
      },
    );
  };
  const servers: HttpServer[] = [];
  const bound: BoundHttpPort[] = [];
  const unavailable: HttpService["unavailable"] = [];
  // Node checks the two timeouts every connectionsCheckingInterval (30 s by default), which would
  // let a slow client hold a socket well past http.headers_timeout; check at a tenth of it.
  const limits = {
    maxHeaderSize: settings.maxHeaderSize,
    headersTimeout: settings.headersTimeout,
    requestTimeout: Math.max(settings.requestTimeout, settings.headersTimeout),
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(settings.headersTimeout / 10))),
  };
  const wanted: ["http" | "https", number | null][] = [["http", settings.httpPort], ["https", settings.httpsPort]];
  for (const [scheme, port] of wanted) {
    if (port === null) continue;
    const server: HttpServer =
      scheme === "http"
        ? createHttpServer({ ...limits, keepAliveTimeout: 5000 }, route)
        : (createHttpsServer({ ...limits, keepAliveTimeout: 5000, ...options.defaultTls?.options(), SNICallback: options.sniCallback }, route) as unknown as HttpServer);
    if (scheme === "https") {
      server.on("tlsClientError", (error: Error) => options.onTlsError?.(error));
      const defaultTls = options.defaultTls;
      if (defaultTls !== undefined) {
        // New handshakes without SNI get the new default; open connections keep theirs.
        const unsubscribe = defaultTls.onChange(() => (server as unknown as HttpsServer).setSecureContext(defaultTls.options()));
        server.once("close", unsubscribe);
      }
    }
    installConnectionFront(server, scheme, { proxyProtocol: options.proxyProtocol, acmeChallenges: context.acmeChallenges, firstBytesTimeoutMs: settings.headersTimeout }, context.log);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ port, host: settings.address }, () => {
          server.off("error", reject);
          resolve();
        });
      });
      const address = server.address();
      const actual = typeof address === "object" && address !== null ? address.port : port;
      bound.push({ scheme, address: settings.address, port: actual });
      servers.push(server);
      context.log.info("http.listening", { scheme, address: settings.address, port: actual });
    } catch (error) {
      const code = errnoCode(error);
      const reason =
        code === "EADDRINUSE"
          ? `port ${port} is already in use (another web server?); mail keeps running without ${scheme.toUpperCase()} here. ` +
            `To run behind nginx/Caddy, set [http] http_port to a free port, proxy to it and list the proxy in trusted_proxies`
          : code === "EACCES"
            ? `permission denied on port ${port} (ports below 1024 need root or CAP_NET_BIND_SERVICE); mail keeps running without ${scheme.toUpperCase()} here`
            : `cannot listen on port ${port}: ${error instanceof Error ? error.message : String(error)}`;
      unavailable.push({ scheme, port, reason });
      context.log.warn("http.port_unavailable", { scheme, port, code, reason });
    }
  }
  return {
    bound,
    unavailable,
    routes: () => (app !== null ? Promise.resolve(app) : ensureApp()),
    async close() {
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      );
      const built = app ?? (building === null ? null : await building.catch(() => null));
      await built?.close();
    },
  };
}
