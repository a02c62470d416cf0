// The admin JSON API under /api/v1 (docs/architecture.md, "Admin API and pages"). Every route is
// one entry of ADMIN_ROUTES: the same table registers the routes and writes /api/v1/openapi.json,
// so the description cannot list a route that does not exist or miss one that does (a test checks
// it against fastify's own route list). Handlers call the admin operations the CLI calls, through
// invokeAdminMethod where arguments come from the client: the control socket's argument checks
// (admin/control/methods.ts) are the API's too. Sessions, tokens and CSRF: web-session.ts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AdminError, type AdminOperations } from "../admin/operations/index.js";
import { invokeAdminMethod } from "../admin/control/methods.js";
import type { AdminWebContext } from "./admin-context.js";
import type { HttpContext } from "./context.js";
import { passkeyView } from "../auth/webauthn.js";
import { passkeySignIn, passkeysOf, relyingParty, responseOf, withPasskeyErrors } from "./passkey-routes.js";
import { ADMIN_COOKIE, SessionKeeper, isSecureEnough, isStateChanging, crossOrigin, tokenCaller, type Caller } from "./web-session.js";

type Method = "GET" | "POST" | "PUT" | "DELETE";

interface RouteCall {
  request: FastifyRequest;
  reply: FastifyReply;
  ops: AdminOperations;
  web: AdminWebContext;
  caller: Caller | null;
  params: Record<string, string>;
  query: Record<string, string>;
  /** The JSON body as an object; {} when none was sent. */
  body: Record<string, unknown>;
}

export interface AdminRoute {
  method: Method;
  /** fastify form, below /api/v1: "/accounts/:address". */
  path: string;
  summary: string;
  /** "none": anyone may call it (sign-in, the description); "admin": a session or token. */
  auth: "none" | "admin";
  /** Body fields for the description: name -> JSON type. */
  body?: Record<string, string>;
  query?: string[];
  /** 200 by default; 201 for creations, 204 for deletions (no body). */
  status?: number;
  handle(call: RouteCall): Promise<unknown>;
}

const invoke = (call: RouteCall, method: string, ...args: unknown[]) => invokeAdminMethod(call.ops, method, args);

function integerQuery(call: RouteCall, name: string): number | undefined {
  const text = call.query[name];
  if (text === undefined || text === "") return undefined;
  if (!/^\d{1,9}$/.test(text)) throw new AdminError("invalid-argument", `${name} must be a whole number`);
  return Number(text);
}

function queueId(call: RouteCall): number {
  const text = call.params.id ?? "";
  if (!/^\d{1,15}$/.test(text)) throw new AdminError("invalid-argument", "a queue id is a number");
  return Number(text);
}

function adminName(call: RouteCall): string {
  if (call.caller === null) throw new AdminError("refused", "not signed in");
  return call.caller.via === "token" ? call.caller.admin : call.caller.session.subject;
}

/** Every route of the API, in the order the description lists them. */
export const ADMIN_ROUTES: readonly AdminRoute[] = [
  { method: "GET", path: "/openapi.json", summary: "This description (OpenAPI 3.1)", auth: "none", handle: async () => openApiDocument() },
  { method: "POST", path: "/session", summary: "Sign in with an admin name and password (and, with TOTP on, code: a 6-digit code or a recovery code; without it the answer is 401 code-required): sets the session cookie, returns the CSRF token", auth: "none", body: { name: "string", password: "string", code: "string" }, handle: signIn },
  { method: "POST", path: "/passkeys/session/options", summary: "Start a passkey sign-in: WebAuthn request options with a one-time challenge (5 minutes)", auth: "none", handle: async (c) => passkeysOf(c.web).authenticationOptions("admin", relyingParty(c.request)) },
  { method: "POST", path: "/passkeys/session", summary: "Sign in with a passkey: the assertion (PublicKeyCredential JSON) for the challenge; sets the session cookie, returns the CSRF token. Refused assertions count as failed logins", auth: "none", body: { response: "object" }, handle: passkeySession },
  { method: "GET", path: "/session", summary: "The signed-in admin and the session's CSRF token", auth: "admin", handle: async (c) => ({ name: adminName(c), csrfToken: c.caller?.via === "session" ? c.caller.session.csrfToken : null }) },
  { method: "DELETE", path: "/session", summary: "Sign out", auth: "admin", status: 204, handle: async (c) => keeperOf(c.web).end(c.request, c.reply) },
  { method: "GET", path: "/status", summary: "Server status: PID, uptime, connections, event loop, queue length", auth: "admin", handle: async (c) => ({ ...(await c.ops.serverStatus()), queue: await c.ops.outbound.countQueue() }) },
  { method: "GET", path: "/stats", summary: "Counts per minute over the last 24 hours (messages in/out, deferred, bounced, connections per protocol, failed logins); the last point is the running minute", auth: "admin", query: ["minutes"], handle: async (c) => c.web.series.view(Math.min(integerQuery(c, "minutes") ?? 60, 1440)) },
  { method: "GET", path: "/deliveries", summary: "Recent deliveries, newest first; filters: event (accepted, delivered, deferred, failed), text", auth: "admin", query: ["event", "text", "limit"], handle: deliveries },
  { method: "GET", path: "/domains", summary: "Local domains", auth: "admin", handle: async (c) => c.ops.listDomains() },
  { method: "POST", path: "/domains", summary: "Add a domain (and its DKIM keys)", auth: "admin", body: { name: "string" }, status: 201, handle: async (c) => invoke(c, "addDomain", c.body.name) },
  { method: "DELETE", path: "/domains/:domain", summary: "Delete a domain that has no accounts or aliases", auth: "admin", status: 204, handle: async (c) => invoke(c, "deleteDomain", c.params.domain) },
  { method: "GET", path: "/domains/:domain/dns", summary: "The DNS records the domain needs, one row each with its zone-file line", auth: "admin", handle: async (c) => invoke(c, "outbound.dnsRecordList", c.params.domain) },
  { method: "GET", path: "/domains/:domain/dns/check", summary: "Each recommended record checked against the live DNS", auth: "admin", handle: async (c) => invoke(c, "outbound.dnsCheck", c.params.domain) },
  { method: "POST", path: "/domains/:domain/dkim/rotate", summary: "New DKIM keys under new selectors", auth: "admin", handle: async (c) => ({ selectors: await invoke(c, "outbound.rotateDkim", c.params.domain) }) },
  { method: "GET", path: "/accounts", summary: "Accounts, paged on the server, optionally of one domain and matching a search", auth: "admin", query: ["domain", "search", "offset", "limit"], handle: async (c) => c.ops.listUsersPage({ ...(c.query.domain ? { domain: c.query.domain } : {}), ...(c.query.search ? { search: c.query.search } : {}), offset: integerQuery(c, "offset") ?? 0, limit: integerQuery(c, "limit") ?? 50 }) },
  { method: "POST", path: "/accounts", summary: "Create an account", auth: "admin", body: { address: "string", password: "string", quotaBytes: "integer|null" }, status: 201, handle: async (c) => invoke(c, "addUser", c.body) },
  { method: "GET", path: "/accounts/:address", summary: "One account: quota, usage, POP3 policy, disabled", auth: "admin", handle: async (c) => invoke(c, "showUser", c.params.address) },
  { method: "DELETE", path: "/accounts/:address", summary: "Delete an account and its mail", auth: "admin", status: 204, handle: async (c) => invoke(c, "deleteUser", c.params.address) },
  { method: "POST", path: "/accounts/:address/password", summary: "Reset the password", auth: "admin", body: { password: "string" }, status: 204, handle: async (c) => invoke(c, "setPassword", c.params.address, c.body.password) },
  { method: "POST", path: "/accounts/:address/disable", summary: "Refuse the account's logins and end its sessions", auth: "admin", handle: async (c) => invoke(c, "disableUser", c.params.address) },
  { method: "POST", path: "/accounts/:address/enable", summary: "Allow the account's logins again", auth: "admin", handle: async (c) => invoke(c, "enableUser", c.params.address) },
  { method: "PUT", path: "/accounts/:address/quota", summary: "Set the storage and message limits (null: the default, 0: unlimited)", auth: "admin", body: { storageBytes: "integer|null", messages: "integer|null" }, handle: async (c) => invoke(c, "setQuotaLimits", c.params.address, c.body) },
  { method: "PUT", path: "/accounts/:address/pop3", summary: "Set the POP3 policy", auth: "admin", body: { mode: "string", markSeen: "boolean", loginDelaySeconds: "integer|null", expireDays: "integer|null" }, handle: async (c) => invoke(c, "setPop3Policy", c.params.address, c.body) },
  { method: "GET", path: "/aliases", summary: "Aliases and catch-alls (@domain), optionally of one domain", auth: "admin", query: ["domain"], handle: async (c) => invoke(c, "listAliases", c.query.domain || null) },
  { method: "POST", path: "/aliases", summary: "Add an alias or catch-all (@domain) delivering to accounts", auth: "admin", body: { alias: "string", targets: "string[]" }, status: 201, handle: async (c) => invoke(c, "addAlias", c.body.alias, c.body.targets) },
  { method: "DELETE", path: "/aliases/:alias", summary: "Delete an alias", auth: "admin", status: 204, handle: async (c) => invoke(c, "deleteAlias", c.params.alias, null) },
  { method: "GET", path: "/queue", summary: "Outbound messages waiting, oldest first, one page: { entries, next }; filters: status (pending, deferred, held), domain, to; after: the next of the page before; limit 1-1000 (50)", auth: "admin", query: ["status", "domain", "to", "after", "limit"], handle: async (c) => c.ops.outbound.queuePage({ status: c.query.status, domain: c.query.domain, to: c.query.to, after: c.query.after, limit: integerQuery(c, "limit") }) },
  { method: "GET", path: "/queue/:id", summary: "One queued message", auth: "admin", handle: async (c) => c.ops.outbound.showQueued(queueId(c)) },
  { method: "POST", path: "/queue/:id/retry", summary: "Attempt now", auth: "admin", handle: async (c) => c.ops.outbound.retryQueued(queueId(c)) },
  { method: "POST", path: "/queue/:id/hold", summary: "Hold: no attempt until released", auth: "admin", handle: async (c) => c.ops.outbound.holdQueued(queueId(c)) },
  { method: "POST", path: "/queue/:id/release", summary: "End a hold: attempt now", auth: "admin", handle: async (c) => c.ops.outbound.releaseQueued(queueId(c)) },
  { method: "POST", path: "/queue/:id/bounce", summary: "Return to the sender with a DSN", auth: "admin", body: { reason: "string" }, status: 204, handle: async (c) => invoke(c, "outbound.bounceQueued", queueId(c), c.body.reason ?? null) },
  { method: "DELETE", path: "/queue/:id", summary: "Remove without delivering and without a DSN", auth: "admin", status: 204, handle: async (c) => c.ops.outbound.deleteQueued(queueId(c)) },
  { method: "GET", path: "/tls", summary: "Served certificates with expiry; ACME renewal state per name", auth: "admin", handle: async (c) => c.ops.tlsStatus() },
  { method: "GET", path: "/admins", summary: "Admin accounts", auth: "admin", handle: async (c) => c.ops.admins.listAdmins() },
  { method: "POST", path: "/admins", summary: "Add an admin", auth: "admin", body: { name: "string", password: "string" }, status: 201, handle: async (c) => invoke(c, "admins.addAdmin", c.body.name, c.body.password) },
  { method: "GET", path: "/tokens", summary: "API tokens (never their secrets)", auth: "admin", handle: async (c) => c.ops.admins.listApiTokens() },
  { method: "POST", path: "/tokens", summary: "Make an API token acting as the caller; the secret is in this answer only", auth: "admin", body: { name: "string", days: "integer" }, status: 201, handle: async (c) => invoke(c, "admins.createApiToken", adminName(c), c.body.name, c.body.days ?? c.web.settings.tokenDays) },
  { method: "GET", path: "/passkeys", summary: "The caller's passkeys (never their keys)", auth: "admin", handle: async (c) => (await passkeysOf(c.web).list({ kind: "admin", name: adminName(c) })).map(passkeyView) },
  { method: "POST", path: "/passkeys/options", summary: "Start registering a passkey for the caller (the password asked again): WebAuthn creation options with a one-time challenge", auth: "admin", body: { password: "string" }, handle: async (c) => {
    const name = adminName(c);
    const password = c.body.password;
    if (typeof password !== "string" || password.length === 0 || password.length > LOGIN_FIELD_MAX) throw new AdminError("invalid-argument", "password is a required string");
    const check = await c.web.authenticateAdmin(name, password, c.request.ip, c.request.protocol === "https");
    if (!check.ok) throw check.reason === "throttled" ? new HttpFailure(429, "throttled", "too many failed attempts; try again later") : new HttpFailure(403, "wrong-password", "the password is wrong");
    return withPasskeyErrors(() => passkeysOf(c.web).registrationOptions({ kind: "admin", name }, name, relyingParty(c.request)));
  } },
  { method: "POST", path: "/passkeys", summary: "Finish registering: the attestation (PublicKeyCredential JSON, attestation none) and a name", auth: "admin", body: { name: "string", response: "object" }, status: 201, handle: async (c) => {
    if (typeof c.body.name !== "string") throw new AdminError("invalid-argument", "name is a required string");
    return passkeyView(await withPasskeyErrors(() => passkeysOf(c.web).register({ kind: "admin", name: adminName(c) }, c.body.name as string, responseOf(c.body), relyingParty(c.request))));
  } },
  { method: "DELETE", path: "/passkeys/:id", summary: "Remove one of the caller's passkeys", auth: "admin", status: 204, handle: async (c) => {
    if (!/^\d{1,15}$/.test(c.params.id ?? "")) throw new AdminError("invalid-argument", "a passkey id is a number");
    return withPasskeyErrors(() => passkeysOf(c.web).remove({ kind: "admin", name: adminName(c) }, Number(c.params.id)));
  } },
  { method: "DELETE", path: "/tokens/:id", summary: "Revoke an API token", auth: "admin", status: 204, handle: async (c) => {
    if (!/^\d{1,15}$/.test(c.params.id ?? "")) throw new AdminError("invalid-argument", "a token id is a number");
    return c.ops.admins.deleteApiToken(Number(c.params.id));
  } },
];

const keepers = new WeakMap<AdminWebContext, SessionKeeper>();
function keeperOf(web: AdminWebContext): SessionKeeper {
  let keeper = keepers.get(web);
  if (keeper === undefined) {
    keeper = new SessionKeeper(web.store, "admin", ADMIN_COOKIE, "/", { idleMs: web.settings.sessionIdleMs, maxMs: web.settings.sessionMaxMs }, web.clock);
    keepers.set(web, keeper);
  }
  return keeper;
}

/** The admin session of a request (the admin pages use it too). */
export function adminSessionKeeper(web: AdminWebContext): SessionKeeper {
  return keeperOf(web);
}

const LOGIN_FIELD_MAX = 1024;

async function signIn(call: RouteCall): Promise<unknown> {
  const { name, password, code } = call.body;
  if (typeof name !== "string" || typeof password !== "string" || name.length === 0 || name.length > 320 || password.length > LOGIN_FIELD_MAX) {
    throw new AdminError("invalid-argument", "name and password are required strings");
  }
  // The second factor (auth/totp.ts), for admins with TOTP on: a 6-digit code or a recovery code.
  if (code !== undefined && code !== null && (typeof code !== "string" || code.length > 64)) throw new AdminError("invalid-argument", "code must be a string of at most 64 characters");
  const result = await call.web.authenticateAdmin(name, password, call.request.ip, call.request.protocol === "https", { code: typeof code === "string" ? code : undefined });
  if (!result.ok) {
    if (result.reason === "throttled") {
      void call.reply.header("retry-after", String(Math.ceil((result.retryAfterMs ?? 60_000) / 1000)));
      throw new HttpFailure(429, "throttled", "too many failed sign-ins; try again later");
    }
    if (result.reason === "temporary-failure") throw new HttpFailure(503, "unavailable", "sign-in is unavailable right now; try again");
    if (result.reason === "second-factor-required") throw new HttpFailure(401, "code-required", "enter the code from your authenticator app (or a recovery code)");
    throw new HttpFailure(401, "invalid-credentials", "wrong name or password (or code)");
  }
  const csrfToken = await keeperOf(call.web).start(call.reply, result.name);
  return { name: result.name, csrfToken };
}

async function passkeySession(call: RouteCall): Promise<unknown> {
  const name = await passkeySignIn(call.web, "admin", call.request, call.body, (seconds) => void call.reply.header("retry-after", String(seconds)));
  return { name, csrfToken: await keeperOf(call.web).start(call.reply, name) };
}

async function deliveries(call: RouteCall): Promise<unknown> {
  const event = call.query.event;
  if (event !== undefined && event !== "" && !["accepted", "delivered", "deferred", "failed"].includes(event)) throw new AdminError("invalid-argument", "event is accepted, delivered, deferred or failed");
  return call.web.deliveries.list({ event: event === "" ? undefined : (event as "accepted"), text: call.query.text?.slice(0, 200), limit: Math.min(integerQuery(call, "limit") ?? 100, 1000) });
}

/** A failure with its own status and code (sign-in, CSRF, HTTPS). */
export class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const ADMIN_STATUS: Record<AdminError["kind"], number> = { "invalid-argument": 400, "not-found": 404, conflict: 409, refused: 409 };

/** The JSON error every failure of these routes becomes: {"error": code, "message": text}. */
export function errorReply(reply: FastifyReply, error: unknown, log: HttpContext["log"], url: string): FastifyReply {
  if (error instanceof HttpFailure) return reply.code(error.status).send({ error: error.code, message: error.message });
  if (error instanceof AdminError) return reply.code(ADMIN_STATUS[error.kind]).send({ error: error.kind, message: error.message });
  const fastifyError = error as { statusCode?: number; code?: string; message?: string };
  if (typeof fastifyError.statusCode === "number" && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    // Body too large (413), not JSON (400), wrong media type (415): fastify's own, said plainly.
    return reply.code(fastifyError.statusCode).send({ error: fastifyError.code ?? "bad-request", message: fastifyError.message ?? "bad request" });
  }
  log.error("http.admin_failed", { url: url.slice(0, 200), error: error instanceof Error ? error.message : String(error) });
  return reply.code(500).send({ error: "internal", message: "internal error" });
}

/** Refuses plain HTTP from anywhere but loopback, before any route runs. */
export function requireSecureTransport(request: FastifyRequest): void {
  if (!isSecureEnough(request)) throw new HttpFailure(403, "https-required", "use HTTPS: these pages answer plain HTTP on loopback only");
}

/** The caller (session or token) of an authenticated route; throws 401/403 otherwise. */
export async function authenticate(request: FastifyRequest, web: AdminWebContext): Promise<Caller> {
  const now = web.clock?.() ?? new Date();
  if (request.headers.authorization !== undefined) {
    const token = await tokenCaller(web.store, request.headers.authorization, now);
    if (token === null) throw new HttpFailure(401, "invalid-token", "the API token is unknown, revoked or expired");
    // The admin it acts as must still exist (deleting an admin deletes its tokens; this is the belt to that).
    if ((await web.store.findAdminUser(token.admin)) === null) throw new HttpFailure(401, "invalid-token", "the token's admin no longer exists");
    return { via: "token", ...token };
  }
  const keeper = keeperOf(web);
  const session = await keeper.current(request);
  if (session === null) throw new HttpFailure(401, "unauthenticated", "sign in first (POST /api/v1/session), or send Authorization: Bearer <token>");
  if (isStateChanging(request) && !keeper.csrfOk(request, session)) throw new HttpFailure(403, "csrf", "missing or wrong X-CSRF-Token (GET /api/v1/session gives it), or a foreign Origin");
  return { via: "session", session };
}

export function registerAdminApi(app: FastifyInstance, context: HttpContext): void {
  const web = context.admin;
  if (web === undefined) return;
  void app.register(
    async (api) => {
      api.setErrorHandler((error, request, reply) => errorReply(reply, error, context.log, request.url));
      api.setNotFoundHandler((_request, reply) => void reply.code(404).send({ error: "not-found", message: "no such route (GET /api/v1/openapi.json lists them)" }));
      // What fastify really registered under the prefix: the OpenAPI test compares it with the description.
      api.addHook("onRoute", (route) => {
        const methods = Array.isArray(route.method) ? route.method : [route.method];
        for (const method of methods) if (method !== "HEAD") registeredRoutes(app).add(`${method} ${route.url}`);
      });
      api.addHook("onRequest", async (request, reply) => {
        requireSecureTransport(request);
        void reply.header("cache-control", "no-store").header("x-content-type-options", "nosniff");
      });
      for (const route of ADMIN_ROUTES) {
        api.route({
          method: route.method,
          url: route.path,
          bodyLimit: web.settings.bodyLimit,
          handler: async (request, reply) => {
            let caller: Caller | null = null;
            if (route.auth === "admin") caller = await authenticate(request, web);
            else if (isStateChanging(request) && crossOrigin(request)) throw new HttpFailure(403, "csrf", "a foreign Origin");
            const raw = request.body;
            if (raw !== undefined && raw !== null && (typeof raw !== "object" || Array.isArray(raw))) throw new AdminError("invalid-argument", "the body must be a JSON object");
            const call: RouteCall = { request, reply, ops: web.operations, web, caller, params: (request.params ?? {}) as Record<string, string>, query: (request.query ?? {}) as Record<string, string>, body: (raw ?? {}) as Record<string, unknown> };
            for (const value of Object.values(call.query)) if (typeof value !== "string") throw new AdminError("invalid-argument", "each query parameter may appear once");
            const result = await route.handle(call);
            if (route.status === 204) return reply.code(204).send();
            return reply.code(route.status ?? 200).send(result === undefined ? null : result);
          },
        });
      }
    },
    { prefix: API_PREFIX },
  );
}

export const API_PREFIX = "/api/v1";

const registered = new WeakMap<FastifyInstance, Set<string>>();
/** "METHOD /api/v1/path" of every route fastify registered for the API on this app. */
export function registeredRoutes(app: FastifyInstance): Set<string> {
  let set = registered.get(app);
  if (set === undefined) {
    set = new Set();
    registered.set(app, set);
  }
  return set;
}

/** The OpenAPI 3.1 description of ADMIN_ROUTES. */
export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ADMIN_ROUTES) {
    const path = route.path.replace(/:([a-z]+)/g, "{$1}");
    const parameters = [
      ...[...route.path.matchAll(/:([a-z]+)/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } })),
      ...(route.query ?? []).map((name) => ({ name, in: "query", required: false, schema: { type: "string" } })),
    ];
    const schemaOf = (type: string): Record<string, unknown> =>
      type === "string[]" ? { type: "array", items: { type: "string" } } : type.endsWith("|null") ? { type: [type.slice(0, -5), "null"] } : { type };
    const status = String(route.status ?? 200);
    paths[path] ??= {};
    paths[path]![route.method.toLowerCase()] = {
      summary: route.summary,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body ? { requestBody: { required: true, content: { "application/json": { schema: { type: "object", properties: Object.fromEntries(Object.entries(route.body).map(([k, t]) => [k, schemaOf(t)])) } } } } } : {}),
      security: route.auth === "none" ? [] : [{ session: [], csrf: [] }, { token: [] }],
      responses: {
        [status]: { description: status === "204" ? "done" : "the result as JSON" },
        "400": { description: "bad arguments or JSON", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
        ...(route.auth === "none" ? {} : { "401": { description: "not signed in" }, "403": { description: "CSRF token missing or wrong, or plain HTTP from elsewhere than loopback" } }),
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "Mailroom admin API", version: "1" },
    servers: [{ url: API_PREFIX }],
    paths,
    components: {
      securitySchemes: {
        session: { type: "apiKey", in: "cookie", name: ADMIN_COOKIE },
        csrf: { type: "apiKey", in: "header", name: "X-CSRF-Token" },
        token: { type: "http", scheme: "bearer" },
      },
      schemas: { Error: { type: "object", properties: { error: { type: "string" }, message: { type: "string" } }, required: ["error", "message"] } },
    },
  };
}
