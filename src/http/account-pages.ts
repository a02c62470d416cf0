// Account self-service at /account (docs/architecture.md, "Admin API and pages"): a mail user signs
// in with their mail password (the same authenticator, throttle and log lines as IMAP and POP3),
// changes it, sees their quota use, and sets forwarding and an out-of-office reply, which become
// a Sieve script that runs before the user's own active one (admin/operations/account-filters.ts). Its small JSON API lives under
// /account/api with the same session, CSRF and HTTPS rules as the admin API (web-session.ts).
// App passwords and two-step sign-in: account-credentials.ts. Further sections plug in through
// AdminWebContext.accountSections.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { AdminError } from "../admin/operations/index.js";
import type { WebSession } from "../store/index.js";
import { errorReply, HttpFailure, requireSecureTransport } from "./admin-api.js";
import { escapeHtml, pageHeaders, refuseInsecure, renderPage, serveAssets } from "./admin-pages.js";
import { registerCredentialRoutes, renderCredentialSections } from "./account-credentials.js";
import { passkeySignIn, passkeysOf, relyingParty } from "./passkey-routes.js";
import type { HttpContext } from "./context.js";
import { ACCOUNT_COOKIE, SessionKeeper, crossOrigin, isStateChanging } from "./web-session.js";

export const ACCOUNT_API = "/account/api";

function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return "unlimited";
  const mib = value / (1024 * 1024);
  return mib < 1 ? `${Math.ceil(value / 1024)} KiB` : `${mib.toFixed(1)} MiB`;
}

export function registerAccountPages(app: FastifyInstance, context: HttpContext): void {
  const web = context.admin;
  if (web === undefined) return;
  const keeper = new SessionKeeper(web.store, "account", ACCOUNT_COOKIE, "/account", { idleMs: web.settings.sessionIdleMs, maxMs: web.settings.sessionMaxMs }, web.clock);
  serveAssets(app, "/account");

  /**
   * The request's session, if its account still exists, may log in, and is the one that signed in:
   * admin `user disable`, `user del` and password resets delete the account's sessions
   * (admin/operations), and this check covers what they cannot (sessions made before that rule,
   * a store without web sessions of the operations). A session older than the account belongs to
   * a deleted account of the same address, never to the new owner.
   */
  const liveSession = async (request: FastifyRequest): Promise<WebSession | null> => {
    const session = await keeper.current(request);
    if (session === null) return null;
    let view;
    try {
      view = await web.operations.showUser(session.subject);
    } catch (error) {
      if (error instanceof AdminError && error.kind === "not-found") view = null;
      else throw error;
    }
    if (view === null || view.disabled || session.createdAt.getTime() < view.createdAt.getTime()) {
      await web.store.deleteWebSession(session.idHash);
      return null;
    }
    return session;
  };
  const requireSession = async (request: FastifyRequest): Promise<WebSession> => {
    const session = await liveSession(request);
    if (session === null) throw new HttpFailure(401, "unauthenticated", "sign in first");
    if (isStateChanging(request) && !keeper.csrfOk(request, session)) throw new HttpFailure(403, "csrf", "missing or wrong X-CSRF-Token, or a foreign Origin");
    return session;
  };
  const objectBody = (request: FastifyRequest): Record<string, unknown> => {
    const body = request.body;
    if (body === undefined || body === null) return {};
    if (typeof body !== "object" || Array.isArray(body)) throw new AdminError("invalid-argument", "the body must be a JSON object");
    return body as Record<string, unknown>;
  };

  void app.register(
    async (api) => {
      api.setErrorHandler((error, request, reply) => errorReply(reply, error, context.log, request.url));
      api.setNotFoundHandler((_request, reply) => void reply.code(404).send({ error: "not-found", message: "no such route" }));
      api.addHook("onRequest", async (request, reply) => {
        requireSecureTransport(request);
        void reply.header("cache-control", "no-store").header("x-content-type-options", "nosniff");
      });
      const options = { bodyLimit: web.settings.bodyLimit };
      api.post("/session", options, async (request, reply) => {
        if (crossOrigin(request)) throw new HttpFailure(403, "csrf", "a foreign Origin");
        const { address, password, code } = objectBody(request);
        if (typeof address !== "string" || typeof password !== "string" || address.length === 0 || address.length > 320 || password.length > 1024) throw new AdminError("invalid-argument", "address and password are required strings");
        // The second factor (auth/totp.ts), for accounts with TOTP on: a 6-digit code or a recovery code.
        if (code !== undefined && code !== null && (typeof code !== "string" || code.length > 64)) throw new AdminError("invalid-argument", "code must be a string of at most 64 characters");
        const result = await web.authenticateAccount(address, password, request.ip, request.protocol === "https", { code: typeof code === "string" ? code : undefined });
        if (!result.ok) {
          if (result.reason === "throttled") {
            void reply.header("retry-after", String(Math.ceil((result.retryAfterMs ?? 60_000) / 1000)));
            throw new HttpFailure(429, "throttled", "too many failed sign-ins; try again later");
          }
          if (result.reason === "temporary-failure") throw new HttpFailure(503, "unavailable", "sign-in is unavailable right now; try again");
          if (result.reason === "second-factor-required") throw new HttpFailure(401, "code-required", "enter the code from your authenticator app (or a recovery code)");
          throw new HttpFailure(401, "invalid-credentials", "wrong address, password or code");
        }
        return { address: result.name, csrfToken: await keeper.start(reply, result.name) };
      });
      // Passkey sign-in (auth/webauthn.ts): options (a one-time challenge), then the assertion.
      api.post("/passkey-session/options", options, async (request) => {
        if (crossOrigin(request)) throw new HttpFailure(403, "csrf", "a foreign Origin");
        return passkeysOf(web).authenticationOptions("account", relyingParty(request));
      });
      api.post("/passkey-session", options, async (request, reply) => {
        if (crossOrigin(request)) throw new HttpFailure(403, "csrf", "a foreign Origin");
        const name = await passkeySignIn(web, "account", request, objectBody(request), (seconds) => void reply.header("retry-after", String(seconds)));
        return { address: name, csrfToken: await keeper.start(reply, name) };
      });
      api.delete("/session", options, async (request, reply) => {
        await requireSession(request);
        await keeper.end(request, reply);
        return reply.code(204).send();
      });
      api.get("/me", async (request) => {
        const session = await requireSession(request);
        const view = await web.operations.showUser(session.subject);
        return { address: view.address, usedBytes: view.usedBytes, quotaBytes: view.quotaBytes, usedMessages: view.usedMessages, quotaMessages: view.quotaMessages, filters: await web.operations.accountFilters.getFilters(session.subject) };
      });
      api.post("/password", options, async (request, reply) => {
        const session = await requireSession(request);
        const { current, password } = objectBody(request);
        if (typeof current !== "string" || typeof password !== "string" || current.length > 1024) throw new AdminError("invalid-argument", "current and password are required strings");
        // The current password is checked like any login (throttled, logged), so a browser left
        // signed in cannot be used to take the account over.
        const check = await web.authenticateAccount(session.subject, current, request.ip, request.protocol === "https");
        if (!check.ok) throw check.reason === "throttled" ? new HttpFailure(429, "throttled", "too many failed attempts; try again later") : new HttpFailure(403, "wrong-password", "the current password is wrong");
        await web.operations.setPassword(session.subject, password);
        // Other browsers signed in as this account are signed out; this one stays.
        const others = await web.store.deleteWebSessionsOf("account", session.subject);
        const csrfToken = await keeper.start(reply, session.subject);
        context.log.info("account.password_changed", { account: session.subject, via: "account-page", sessionsEnded: others });
        return { csrfToken };
      });
      api.put("/filters", options, async (request) => {
        const session = await requireSession(request);
        return web.operations.accountFilters.setFilters(session.subject, objectBody(request));
      });
      registerCredentialRoutes(api, { web, requireSession, objectBody, log: context.log, bodyLimit: web.settings.bodyLimit });
    },
    { prefix: ACCOUNT_API },
  );

  app.get("/account/login", async (request, reply) => {
    if (refuseInsecure(request, reply)) return reply;
    const body = `<form data-api-form="POST ${ACCOUNT_API}/session" data-then="/account">
<p><label for="login-name">Email address</label><input id="login-name" name="address" type="email" required autocomplete="username" autocapitalize="none" spellcheck="false"></p>
<p><label for="login-password">Password</label><input id="login-password" name="password" type="password" required autocomplete="current-password"></p>
<p><label for="login-code">Code from your authenticator app (only if two-step sign-in is on)</label><input id="login-code" name="code" data-optional inputmode="numeric" autocomplete="one-time-code" maxlength="64" autocapitalize="none" spellcheck="false"></p>
<p><button type="submit">Sign in</button></p></form>
${web.passkeys ? `<p><button type="button" class="secondary" data-passkey-login="${ACCOUNT_API}/passkey-session" data-then="/account">Use a passkey instead</button></p>` : ""}`;
    return pageHeaders(reply).send(renderPage({ title: "Your mail account", area: "/account", apiBase: ACCOUNT_API, csrfToken: null, nav: [], current: "", who: null, signOut: null, body }));
  });

  app.get("/account", async (request, reply) => {
    if (refuseInsecure(request, reply)) return reply;
    const session = await liveSession(request);
    if (session === null) return reply.code(303).header("location", "/account/login").send();
    const view = await web.operations.showUser(session.subject);
    let filters;
    try {
      filters = await web.operations.accountFilters.getFilters(session.subject);
    } catch {
      filters = null;
    }
    const percent = view.quotaBytes ? Math.min(100, Math.round((view.usedBytes / view.quotaBytes) * 100)) : null;
    const credentials = await renderCredentialSections(web, session.subject, ACCOUNT_API);
    const extra = await Promise.all((web.accountSections ?? []).map((section) => section(session.subject)));
    const servers = context.servers();
    const v = filters?.vacation;
    const body = `<section aria-labelledby="quota-h"><h2 id="quota-h">Storage</h2>
<p>${bytes(view.usedBytes)} used of ${bytes(view.quotaBytes)}${percent === null ? "" : ` (${percent}%)`}${view.quotaMessages ? `; ${view.usedMessages ?? 0} of ${view.quotaMessages} messages` : ""}.</p>
${percent === null ? "" : `<p><meter min="0" max="100" value="${percent}" aria-label="Storage used">${percent}%</meter></p>`}</section>
<section aria-labelledby="password-h"><h2 id="password-h">Password</h2>
<form data-api-form="POST ${ACCOUNT_API}/password" data-then="message" data-message="Password changed. Use the new one in your mail apps." data-reset>
<p><label for="current">Current password</label><input id="current" name="current" type="password" required autocomplete="current-password"></p>
<p><label for="new-password">New password (at least 8 characters)</label><input id="new-password" name="password" type="password" required minlength="8" autocomplete="new-password"></p>
<p><button type="submit">Change password</button></p></form></section>
${filters === null ? "" : `<section aria-labelledby="filters-h"><h2 id="filters-h">Forwarding and out-of-office</h2>
${filters.otherActiveScript ? `<p>Your own mail filter “${escapeHtml(filters.otherActiveScript)}” runs too, after these settings; saving here leaves it as it is.</p>` : ""}
<form data-api-form="PUT ${ACCOUNT_API}/filters" data-then="message" data-message="Saved.">
<p><label for="forward">Forward every message to (empty: no forwarding)</label><input id="forward" name="forwardTo" type="email" value="${escapeHtml(filters.forwardTo ?? "")}"></p>
<p><input id="keep" name="keepCopy" type="checkbox"${filters.keepCopy ? " checked" : ""}> <label for="keep">Keep a copy here</label></p>
<fieldset><legend>Out-of-office reply</legend>
<p><input id="vac-on" name="vacation.enabled" type="checkbox"${v?.enabled ? " checked" : ""}> <label for="vac-on">Answer incoming mail automatically</label></p>
<p><label for="vac-subject">Subject</label><input id="vac-subject" name="vacation.subject" maxlength="200" value="${escapeHtml(v?.subject ?? "")}"></p>
<p><label for="vac-body">Text</label><textarea id="vac-body" name="vacation.body" rows="5" maxlength="4000">${escapeHtml(v?.body ?? "")}</textarea></p>
<p><label for="vac-days">Answer each sender at most once every (days)</label><input id="vac-days" name="vacation.days" type="number" min="1" max="30" value="${v?.days ?? 7}"></p>
</fieldset>
<p><button type="submit">Save</button></p></form></section>`}
<section aria-labelledby="apps-h"><h2 id="apps-h">Set up your mail app</h2>
<p>User name: <strong>${escapeHtml(view.address)}</strong>, with your password (or better, an app password made below). iPhone, iPad and Mac: <a href="/apple/mobileconfig?emailaddress=${encodeURIComponent(view.address)}">download the settings profile</a>. Thunderbird and Outlook find the settings from your address.</p>
${servers.length === 0 ? "" : `<table class="responsive"><thead><tr><th scope="col">Service</th><th scope="col">Server</th><th scope="col">Port</th><th scope="col">Security</th></tr></thead><tbody>${servers.map((c) => `<tr><td data-label="Service">${escapeHtml(c.service.toUpperCase())}</td><td data-label="Server">${escapeHtml(c.host)}</td><td data-label="Port">${c.port}</td><td data-label="Security">${c.socket === "SSL" ? "SSL/TLS" : "STARTTLS"}</td></tr>`).join("")}</tbody></table>`}</section>
${credentials}
${extra.join("\n")}`;
    return pageHeaders(reply).send(renderPage({ title: "Your mail account", area: "/account", apiBase: ACCOUNT_API, csrfToken: session.csrfToken, nav: [{ href: "/account", label: "Account" }], current: "/account", who: session.subject, signOut: `${ACCOUNT_API}/session`, body }));
  });
}
