// The account page's credentials (issue 20 and 22): app passwords (one per device, shown once,
// listed with their last use, revocable; admin/operations/auth.ts, the same operations as
// `mailroom app-password`) and the TOTP second factor of the web sign-in (auth/totp.ts). Routes
// under /account/api, sections of /account.
//
// What a signed-in browser alone may not do: anything that mints a credential or weakens the sign-in
// (a new app password, TOTP enrollment, TOTP off) asks for the current password again, checked
// like a login (throttled, logged; TOTP off also takes a code), so a browser left signed in, or a
// stolen session cookie, cannot be turned into lasting access. Listing and revoking need only the
// session: they can only take access away.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { renderSVG } from "uqr";
import { AdminError } from "../admin/operations/index.js";
import type { CredentialOwner, WebSession } from "../store/index.js";
import { passkeyView } from "../auth/webauthn.js";
import { passkeysOf, relyingParty, responseOf, withPasskeyErrors } from "./passkey-routes.js";
import { APP_PASSWORD_PROTOCOLS } from "../auth/index.js";
import type { AdminWebContext } from "./admin-context.js";
import { HttpFailure } from "./admin-api.js";
import { escapeHtml } from "./admin-pages.js";

export interface CredentialRouteDeps {
  web: AdminWebContext;
  requireSession(request: FastifyRequest): Promise<WebSession>;
  objectBody(request: FastifyRequest): Record<string, unknown>;
  log: { info(event: string, fields: Record<string, unknown>): void };
  bodyLimit: number;
}

/** The otpauth URI as an SVG QR code (uqr: no dependencies, nothing fetched), for an <img src="data:...">. */
export function qrSvgDataUri(text: string): string {
  const svg = renderSVG(text, { ecc: "M", border: 2, pixelSize: 6 });
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString("base64")}`;
}

function requiredString(body: Record<string, unknown>, name: string, max: number): string {
  const value = body[name];
  if (typeof value !== "string" || value.length === 0 || value.length > max) throw new AdminError("invalid-argument", `${name} is a required string of at most ${max} characters`);
  return value;
}

export function registerCredentialRoutes(api: FastifyInstance, deps: CredentialRouteDeps): void {
  const { web } = deps;
  const options = { bodyLimit: deps.bodyLimit };
  /** The current password again (and the code when TOTP is on and `withCode`), as a login: throttled and logged. */
  const recheck = async (request: FastifyRequest, session: WebSession, password: string, code?: string): Promise<void> => {
    const result = await web.authenticateAccount(session.subject, password, request.ip, request.protocol === "https", code === undefined ? undefined : { code });
    if (result.ok) return;
    if (result.reason === "throttled") throw new HttpFailure(429, "throttled", "too many failed attempts; try again later");
    if (result.reason === "temporary-failure") throw new HttpFailure(503, "unavailable", "try again");
    if (result.reason === "second-factor-required") throw new HttpFailure(403, "code-required", "enter a code from your authenticator app (or a recovery code)");
    throw new HttpFailure(403, "wrong-password", "the current password (or the code) is wrong");
  };

  api.get("/app-passwords", async (request) => {
    const session = await deps.requireSession(request);
    return web.operations.auth.listAppPasswords(session.subject);
  });
  api.post("/app-passwords", options, async (request, reply) => {
    const session = await deps.requireSession(request);
    const body = deps.objectBody(request);
    const name = requiredString(body, "name", 64);
    const current = requiredString(body, "current", 1024);
    const protocols = body.protocols;
    if (protocols !== undefined && (!Array.isArray(protocols) || protocols.length > 8 || protocols.some((p) => typeof p !== "string" || p.length > 32))) throw new AdminError("invalid-argument", `protocols is a list of ${APP_PASSWORD_PROTOCOLS.join(", ")}`);
    await recheck(request, session, current);
    const created = await web.operations.auth.addAppPassword(session.subject, name, protocols as string[] | undefined);
    deps.log.info("account.app_password_added", { account: session.subject, name: created.name, protocols: created.protocols, via: "account-page" });
    return reply.code(201).send(created);
  });
  api.delete("/app-passwords/:name", options, async (request) => {
    const session = await deps.requireSession(request);
    const name = (request.params as { name?: string }).name ?? "";
    if (name.length === 0 || name.length > 64) throw new AdminError("invalid-argument", "an app password name has 1 to 64 characters");
    const result = await web.operations.auth.revokeAppPassword(session.subject, name);
    deps.log.info("account.app_password_revoked", { account: session.subject, name, sessionsEnded: result.sessionsEnded, via: "account-page" });
    return result;
  });

  // Passkeys (auth/webauthn.ts): registered while signed in, with the password asked again.
  const ownerOf = async (session: WebSession): Promise<CredentialOwner> => {
    const id = await web.accountIdOf?.(session.subject);
    if (id === null || id === undefined) throw new AdminError("refused", "passkeys are not available here");
    return { kind: "account", accountId: id };
  };
  api.get("/passkeys", async (request) => {
    const session = await deps.requireSession(request);
    return (await passkeysOf(web).list(await ownerOf(session))).map(passkeyView);
  });
  api.post("/passkeys/options", options, async (request) => {
    const session = await deps.requireSession(request);
    await recheck(request, session, requiredString(deps.objectBody(request), "current", 1024));
    return withPasskeyErrors(async () => passkeysOf(web).registrationOptions(await ownerOf(session), session.subject, relyingParty(request)));
  });
  api.post("/passkeys", options, async (request, reply) => {
    const session = await deps.requireSession(request);
    const body = deps.objectBody(request);
    const name = requiredString(body, "name", 64);
    const added = await withPasskeyErrors(async () => passkeysOf(web).register(await ownerOf(session), name, responseOf(body), relyingParty(request)));
    deps.log.info("account.passkey_added", { account: session.subject, name: added.name, via: "account-page" });
    return reply.code(201).send(passkeyView(added));
  });
  api.delete("/passkeys/:id", options, async (request) => {
    const session = await deps.requireSession(request);
    const id = (request.params as { id?: string }).id ?? "";
    if (!/^\d{1,15}$/.test(id)) throw new AdminError("invalid-argument", "a passkey id is a number");
    await withPasskeyErrors(async () => passkeysOf(web).remove(await ownerOf(session), Number(id)));
    deps.log.info("account.passkey_removed", { account: session.subject, id: Number(id), via: "account-page" });
    return { removed: Number(id) };
  });

  api.get("/totp", async (request) => {
    const session = await deps.requireSession(request);
    return web.operations.auth.totpStatus(session.subject);
  });
  api.post("/totp", options, async (request) => {
    const session = await deps.requireSession(request);
    const current = requiredString(deps.objectBody(request), "current", 1024);
    await recheck(request, session, current);
    // A confirmed factor is never replaced in place: it is turned off first (which takes a code),
    // so a password alone cannot move the second factor to another device.
    const status = await web.operations.auth.totpStatus(session.subject);
    if (status.enabled && status.confirmed) throw new AdminError("conflict", "two-step sign-in is already on; turn it off first");
    const enrollment = await web.operations.auth.totpEnable(session.subject);
    return { ...enrollment, qr: qrSvgDataUri(enrollment.uri) };
  });
  api.post("/totp/confirm", options, async (request) => {
    const session = await deps.requireSession(request);
    const code = requiredString(deps.objectBody(request), "code", 16);
    if (!(await web.operations.auth.totpConfirm(session.subject, code))) throw new AdminError("invalid-argument", "the code does not match (check the device's clock), or enrollment was not started");
    deps.log.info("account.totp_enabled", { account: session.subject, via: "account-page" });
    return { enabled: true };
  });
  api.delete("/totp", options, async (request) => {
    const session = await deps.requireSession(request);
    const body = deps.objectBody(request);
    const current = requiredString(body, "current", 1024);
    const code = body.code === undefined || body.code === "" ? undefined : requiredString(body, "code", 64);
    // With TOTP on, the right password without a code is "code-required"; a wrong code counts as a failed login.
    await recheck(request, session, current, code ?? "");
    await web.operations.auth.totpDisable(session.subject);
    deps.log.info("account.totp_disabled", { account: session.subject, via: "account-page" });
    return { enabled: false };
  });
}

const when = (date: Date | null): string => (date === null ? "never" : `${new Date(date).toISOString().replace("T", " ").slice(0, 16)} UTC`);

/** The app-password and two-step sign-in sections of /account. */
export async function renderCredentialSections(web: AdminWebContext, address: string, apiBase: string): Promise<string> {
  let apps;
  let totp;
  try {
    apps = await web.operations.auth.listAppPasswords(address);
    totp = await web.operations.auth.totpStatus(address);
  } catch (error) {
    // A server without the auth state (no app passwords, no TOTP): the sections are left out.
    if (error instanceof AdminError && error.kind === "refused") return "";
    throw error;
  }
  const rows = apps
    .map(
      (a) =>
        `<tr><td data-label="Name">${escapeHtml(a.name)}</td><td data-label="Protocols">${escapeHtml(a.protocols.join(", "))}</td><td data-label="Created">${escapeHtml(when(a.createdAt))}</td><td data-label="Last used">${escapeHtml(when(a.lastUsedAt))}${a.lastUsedAddress ? ` from ${escapeHtml(a.lastUsedAddress)}` : ""}</td><td><button type="button" class="danger" data-action="DELETE ${apiBase}/app-passwords/${encodeURIComponent(a.name)}" data-confirm="Revoke ${escapeHtml(a.name)}? Apps using it are signed out at once." aria-label="Revoke ${escapeHtml(a.name)}">Revoke</button></td></tr>`,
    )
    .join("");
  const protocolBoxes = APP_PASSWORD_PROTOCOLS.map((p) => `<input id="app-proto-${p}" type="checkbox" name="protocols" value="${p}" data-kind="checklist" checked> <label for="app-proto-${p}">${p.toUpperCase()}</label>`).join(" ");
  const appSection = `<section aria-labelledby="app-h"><h2 id="app-h">App passwords</h2>
<p>Give each mail app or device its own password, so your main password stays off your phone; revoke one and only that app is signed out.</p>
<table class="responsive"><caption class="muted">${apps.length} app password(s)</caption><thead><tr><th scope="col">Name</th><th scope="col">Protocols</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span class="skip">Actions</span></th></tr></thead><tbody>${rows || `<tr><td colspan="5">No app passwords yet.</td></tr>`}</tbody></table>
<form data-api-form="POST ${apiBase}/app-passwords" data-then="show-secret" data-secret-field="password" data-secret-text="Your new app password (shown only now; type it into the app as its password):">
<p><label for="app-name">Name of the app or device</label><input id="app-name" name="name" required maxlength="64" placeholder="phone"></p>
<fieldset><legend>It may be used for</legend><p>${protocolBoxes}</p></fieldset>
<p><label for="app-current">Your password (asked again to be sure it is you)</label><input id="app-current" name="current" type="password" required autocomplete="current-password"></p>
<p><button type="submit">Create app password</button></p></form>
<div id="secret-out" class="card" hidden><p id="secret-text"></p><p><code id="secret-value" class="wrap"></code></p><p><a href="/account">Done</a></p></div></section>`;
  const on = totp.enabled && totp.confirmed ? totp : null;
  const totpSection = `<section aria-labelledby="totp-h"><h2 id="totp-h">Two-step sign-in</h2>
${
  on
    ? `<p class="ok">On: signing in to this page asks for a code from your authenticator app. ${on.recoveryCodesLeft} recovery code(s) left.</p>
<form data-api-form="DELETE ${apiBase}/totp" data-then="/account">
<p><label for="totp-off-current">Your password (asked again to be sure it is you)</label><input id="totp-off-current" name="current" type="password" required autocomplete="current-password"></p>
<p><label for="totp-off-code">A code from your authenticator app (or a recovery code)</label><input id="totp-off-code" name="code" required inputmode="numeric" autocomplete="one-time-code" maxlength="64"></p>
<p><button type="submit" class="danger">Turn two-step sign-in off</button></p></form>`
    : `<p>Off. With it on, signing in here also asks for a 6-digit code from an authenticator app (RFC 6238 TOTP), or one of ten recovery codes.</p>
<form data-api-form="POST ${apiBase}/totp" data-then="show-totp">
<p><label for="totp-current">Your password (asked again to be sure it is you)</label><input id="totp-current" name="current" type="password" required autocomplete="current-password"></p>
<p><button type="submit">Set up two-step sign-in</button></p></form>
<div id="totp-setup" hidden>
<p>Scan this code with your authenticator app, or type the key in by hand:</p>
<p><img id="totp-qr" alt="QR code of the authenticator key" width="240" height="240"></p>
<p>Key: <code id="totp-secret" class="wrap"></code></p>
<p class="muted">otpauth URI: <code id="totp-uri" class="wrap"></code></p>
<p><strong>Recovery codes</strong> (each works once, instead of a code; shown only now, keep them somewhere safe):</p>
<ul id="totp-recovery"></ul>
<form data-api-form="POST ${apiBase}/totp/confirm" data-then="/account">
<p><label for="totp-confirm-code">Code from the app, to confirm</label><input id="totp-confirm-code" name="code" required inputmode="numeric" autocomplete="one-time-code" maxlength="16"></p>
<p><button type="submit">Turn two-step sign-in on</button></p></form></div>`
}</section>`;
  let passkeySection = "";
  const accountId = web.passkeys ? await web.accountIdOf?.(address) : null;
  if (web.passkeys && accountId !== null && accountId !== undefined) {
    const keys = await web.passkeys.list({ kind: "account", accountId });
    const keyRows = keys.map((k) => `<tr><td data-label="Name">${escapeHtml(k.name)}</td><td data-label="Added">${escapeHtml(when(k.createdAt))}</td><td data-label="Last used">${escapeHtml(when(k.lastUsedAt))}</td><td><button type="button" class="danger" data-action="DELETE ${apiBase}/passkeys/${k.id}" data-confirm="Remove the passkey ${escapeHtml(k.name)}?" aria-label="Remove passkey ${escapeHtml(k.name)}">Remove</button></td></tr>`).join("");
    passkeySection = `<section aria-labelledby="passkey-h"><h2 id="passkey-h">Passkeys</h2>
<p>Sign in to this page with your device (fingerprint, face or PIN) instead of your password and code.</p>
<table class="responsive"><caption class="muted">${keys.length} passkey(s)</caption><thead><tr><th scope="col">Name</th><th scope="col">Added</th><th scope="col">Last used</th><th scope="col"><span class="skip">Actions</span></th></tr></thead><tbody>${keyRows || `<tr><td colspan="4">No passkeys yet.</td></tr>`}</tbody></table>
<form data-passkey-register="${apiBase}/passkeys">
<p><label for="passkey-name">Name of the passkey</label><input id="passkey-name" name="name" required maxlength="64" placeholder="laptop"></p>
<p><label for="passkey-current">Your password (asked again to be sure it is you)</label><input id="passkey-current" name="current" type="password" required autocomplete="current-password"></p>
<p><button type="submit">Add a passkey</button></p></form></section>`;
  }
  return `${appSection}\n${totpSection}\n${passkeySection}`;
}
