// The admin pages at /admin (docs/architecture.md, "Admin API and pages"): HTML rendered here from
// the admin operations, with one small script (web-assets.ts) that sends the JSON API's requests
// for every change (with the session's CSRF token) and draws the dashboard. Lists that can be long
// (accounts) are paged on the server; nothing is loaded from anywhere but this server.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AdminError, isHeld } from "../admin/operations/index.js";
import type { QueuedMessage, WebSession } from "../store/index.js";
import type { AdminWebContext } from "./admin-context.js";
import { adminSessionKeeper } from "./admin-api.js";
import type { HttpContext } from "./context.js";
import { WEB_CSS, WEB_JS } from "./web-assets.js";
import { isSecureEnough } from "./web-session.js";

export function escapeHtml(value: unknown): string {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Security headers of every page: nothing but this server's own script and style, no framing. */
export function pageHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header("content-security-policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    .header("x-frame-options", "DENY")
    .header("referrer-policy", "no-referrer")
    .header("x-content-type-options", "nosniff")
    .header("cache-control", "no-store")
    .type("text/html; charset=utf-8");
}

export interface PageShell {
  title: string;
  /** "/admin" or "/account": where the assets and nav live. */
  area: string;
  apiBase: string;
  csrfToken: string | null;
  nav: { href: string; label: string }[];
  current: string;
  who: string | null;
  signOut: string | null;
  body: string;
}

export function renderPage(shell: PageShell): string {
  const nav = shell.nav.map((n) => `<li><a href="${escapeHtml(n.href)}"${n.href === shell.current ? ' aria-current="page"' : ""}>${escapeHtml(n.label)}</a></li>`).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(shell.title)} · Mailroom</title>
${shell.csrfToken ? `<meta name="csrf-token" content="${escapeHtml(shell.csrfToken)}">` : ""}
<link rel="stylesheet" href="${shell.area}/assets/style.css"></head>
<body data-api="${escapeHtml(shell.apiBase)}">
<a class="skip" href="#main">Skip to content</a>
<header><strong>Mailroom</strong>${nav ? `<nav aria-label="Main"><ul>${nav}</ul></nav>` : ""}${shell.who ? `<span class="muted-inverse">${escapeHtml(shell.who)}</span> <button type="button" class="link" data-action="DELETE ${escapeHtml(shell.signOut ?? "")}" data-then="${shell.area}/login">Sign out</button>` : ""}</header>
<main id="main" tabindex="-1"><h1>${escapeHtml(shell.title)}</h1>
<div id="alert" class="alert" role="alert" tabindex="-1"></div>
${shell.body}
</main>
<script src="${shell.area}/assets/app.js"></script>
</body></html>
`;
}

const NAV = [
  { href: "/admin", label: "Dashboard" },
  { href: "/admin/domains", label: "Domains" },
  { href: "/admin/accounts", label: "Accounts" },
  { href: "/admin/aliases", label: "Aliases" },
  { href: "/admin/queue", label: "Queue" },
  { href: "/admin/log", label: "Delivery log" },
  { href: "/admin/passkeys", label: "Passkeys" },
];

const PAGE_SIZE = 50;

function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return "unlimited";
  if (value < 1024) return `${value} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = value / 1024;
  let unit = 0;
  while (v >= 1024 && unit < units.length - 1) {
    v /= 1024;
    unit++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[unit]}`;
}

function queueState(entry: QueuedMessage, now: Date): string {
  if (entry.leasedUntil !== null && entry.leasedUntil > now) return "being delivered";
  if (isHeld(entry)) return "held";
  return entry.nextAttemptAt <= now ? "due now" : `next attempt ${entry.nextAttemptAt.toISOString().replace("T", " ").slice(0, 19)} UTC`;
}

type Page = (web: AdminWebContext, request: FastifyRequest, session: WebSession) => Promise<string>;

const dashboard: Page = async (web) => {
  const ops = web.operations;
  let status: Record<string, unknown> = {};
  try {
    status = await ops.serverStatus();
  } catch {
    // An API server without the running server's status (tests): the charts still work.
  }
  const queued = await ops.outbound.countQueue();
  let certificates = "";
  try {
    const tls = await ops.tlsStatus();
    certificates = tls.certificates.map((c) => `<li>${escapeHtml(c.subject)} (${escapeHtml(c.keyType)}): valid until ${escapeHtml(c.validTo.toISOString().slice(0, 10))}, <span class="${c.daysLeft < 14 ? "bad" : "ok"}">${c.daysLeft} days left</span>${c.selfSigned ? " (self-signed)" : ""}</li>`).join("");
  } catch {
    certificates = "";
  }
  const chart = (title: string, names: string) => `<section class="card" data-chart="${names}" aria-label="${escapeHtml(title)}"><h2>${escapeHtml(title)}</h2><svg role="img" aria-label="${escapeHtml(title)} per minute"></svg><p class="legend"></p></section>`;
  return `<div id="dashboard">
<p>Up ${escapeHtml(status.uptimeSeconds ?? "?")} s · ${escapeHtml(status.connections ?? "?")} open connection(s) · <a href="/admin/queue">${queued} message(s) in the queue</a> · <span id="updated" aria-live="polite"></span></p>
<form class="inline"><label for="range">Period</label><select id="range"><option value="60">last hour</option><option value="360">last 6 hours</option><option value="1440" selected>last 24 hours</option></select></form>
<div class="cards">
${chart("Messages in and out", "received relayed delivered")}
${chart("Deferred and bounced", "deferred bounced")}
${chart("Connections per protocol", "connections.*")}
${chart("Failed logins", "loginsFailed")}
</div>
<p class="muted">Counts per minute from the counters of /metrics; totals are over the period shown. received: taken by SMTP; relayed: sent to other servers; delivered: stored here.</p>
${certificates ? `<h2>TLS certificates</h2><ul>${certificates}</ul>` : ""}
</div>`;
};

const domainsPage: Page = async (web) => {
  const domains = await web.operations.listDomains();
  const rows = domains.map((d) => `<tr><td data-label="Domain"><a href="/admin/domains/${encodeURIComponent(d.name)}">${escapeHtml(d.name)}</a></td><td data-label="Added">${escapeHtml(d.createdAt.toISOString().slice(0, 10))}</td><td><button type="button" class="danger" data-action="DELETE /api/v1/domains/${encodeURIComponent(d.name)}" data-confirm="Delete ${escapeHtml(d.name)}? It must have no accounts or aliases left.">Delete</button></td></tr>`).join("");
  return `<form class="inline" data-api-form="POST /api/v1/domains"><div><label for="domain-name">New domain</label><input id="domain-name" name="name" required autocomplete="off" placeholder="example.org"></div><button type="submit">Add domain</button></form>
<table class="responsive"><caption class="muted">${domains.length} domain(s)</caption><thead><tr><th scope="col">Domain</th><th scope="col">Added</th><th scope="col"><span class="muted">Actions</span></th></tr></thead><tbody>${rows || '<tr><td colspan="3">No domains yet.</td></tr>'}</tbody></table>`;
};

const domainPage: Page = async (web, request) => {
  const name = (request.params as { domain: string }).domain;
  const records = await web.operations.outbound.dnsRecordList(name);
  const rows = records
    .map((r) => `<tr><td data-label="Type">${escapeHtml(r.type)}</td><td data-label="Name" class="wrap">${escapeHtml(r.owner)}</td><td data-label="Value" class="wrap">${escapeHtml(r.value)}</td><td data-label="Live"><span data-check="${escapeHtml(`${r.type} ${r.owner}`)}">not checked</span></td><td><button type="button" class="secondary" data-copy="${escapeHtml(r.zoneLine)}" aria-label="Copy the ${escapeHtml(r.type)} record of ${escapeHtml(r.owner)}">Copy</button></td></tr>`)
    .join("");
  const zone = records.map((r) => r.zoneLine).join("\n");
  return `<p><a href="/admin/domains">All domains</a> · <a href="/admin/accounts?domain=${encodeURIComponent(name)}">Accounts of ${escapeHtml(name)}</a></p>
<h2>DNS records</h2>
<p>Publish these in the ${escapeHtml(name)} zone. <button type="button" id="dns-check" data-path="/api/v1/domains/${encodeURIComponent(name)}/dns/check">Check live DNS</button> <button type="button" class="secondary" data-copy="${escapeHtml(zone)}">Copy all</button> <span id="dns-summary" aria-live="polite"></span></p>
<table class="responsive"><thead><tr><th scope="col">Type</th><th scope="col">Name</th><th scope="col">Value</th><th scope="col">Live</th><th scope="col"><span class="muted">Copy</span></th></tr></thead><tbody>${rows}</tbody></table>
<h2>DKIM</h2><p><button type="button" data-action="POST /api/v1/domains/${encodeURIComponent(name)}/dkim/rotate" data-confirm="Make new DKIM keys for ${escapeHtml(name)}? Publish the new records before the old ones are removed.">Rotate DKIM keys</button></p>`;
};

const accountsPage: Page = async (web, request) => {
  const query = request.query as Record<string, string | undefined>;
  const search = typeof query.q === "string" ? query.q.slice(0, 200) : "";
  const domain = typeof query.domain === "string" ? query.domain.slice(0, 253) : "";
  const page = /^\d{1,6}$/.test(query.page ?? "") ? Math.max(1, Number(query.page)) : 1;
  const result = await web.operations.listUsersPage({ ...(search ? { search } : {}), ...(domain ? { domain } : {}), offset: (page - 1) * PAGE_SIZE, limit: PAGE_SIZE });
  const pages = Math.max(1, Math.ceil(result.total / PAGE_SIZE));
  const link = (p: number) => `/admin/accounts?${new URLSearchParams({ ...(search ? { q: search } : {}), ...(domain ? { domain } : {}), page: String(p) }).toString()}`;
  const rows = result.items
    .map((a) => {
      const path = `/api/v1/accounts/${encodeURIComponent(a.address)}`;
      return `<tr><td data-label="Address">${escapeHtml(a.address)}</td><td data-label="Used">${bytes(a.usedBytes)} of ${bytes(a.quotaBytes)}</td><td data-label="State">${a.disabled ? '<span class="bad">disabled</span>' : "active"}</td><td>
<button type="button" class="secondary" data-action="POST ${path}/password" data-prompt="password" data-prompt-text="New password for ${escapeHtml(a.address)} (at least 8 characters)">Reset password</button>
${a.disabled ? `<button type="button" class="secondary" data-action="POST ${path}/enable">Enable</button>` : `<button type="button" class="secondary" data-action="POST ${path}/disable">Disable</button>`}
<button type="button" class="danger" data-action="DELETE ${path}" data-confirm="Delete ${escapeHtml(a.address)} and all its mail?">Delete</button></td></tr>`;
    })
    .join("");
  return `<form class="inline" method="get" action="/admin/accounts" role="search"><div><label for="q">Search</label><input id="q" name="q" value="${escapeHtml(search)}" type="search"></div><div><label for="domain-filter">Domain</label><input id="domain-filter" name="domain" value="${escapeHtml(domain)}"></div><button type="submit">Search</button></form>
<h2>New account</h2>
<form class="inline" data-api-form="POST /api/v1/accounts"><div><label for="new-address">Address</label><input id="new-address" name="address" type="email" required autocomplete="off"></div><div><label for="new-password">Password</label><input id="new-password" name="password" type="password" required minlength="8" autocomplete="new-password"></div><div><label for="new-quota">Quota in bytes (empty: default)</label><input id="new-quota" name="quotaBytes" type="number" min="0" data-optional></div><button type="submit">Create account</button></form>
<table class="responsive"><caption class="muted">${result.total} account(s)${search ? ` matching “${escapeHtml(search)}”` : ""}, page ${page} of ${pages}</caption><thead><tr><th scope="col">Address</th><th scope="col">Storage</th><th scope="col">State</th><th scope="col"><span class="muted">Actions</span></th></tr></thead><tbody>${rows || '<tr><td colspan="4">No accounts.</td></tr>'}</tbody></table>
<nav class="pager" aria-label="Pages">${page > 1 ? `<a href="${escapeHtml(link(page - 1))}" rel="prev">Previous</a>` : ""}<span>Page ${page} of ${pages}</span>${page < pages ? `<a href="${escapeHtml(link(page + 1))}" rel="next">Next</a>` : ""}</nav>`;
};

const aliasesPage: Page = async (web) => {
  const aliases = await web.operations.listAliases();
  const rows = aliases.map((a) => `<tr><td data-label="Alias">${escapeHtml(a.address)}</td><td data-label="Delivers to">${escapeHtml(a.targets.join(", "))}</td><td><button type="button" class="danger" data-action="DELETE /api/v1/aliases/${encodeURIComponent(a.address)}" data-confirm="Delete the alias ${escapeHtml(a.address)}?">Delete</button></td></tr>`).join("");
  return `<form class="inline" data-api-form="POST /api/v1/aliases"><div><label for="alias">Alias (@domain: catch-all)</label><input id="alias" name="alias" required></div><div><label for="targets">Delivers to (accounts, comma-separated)</label><input id="targets" name="targets" data-kind="list" required></div><button type="submit">Add alias</button></form>
<table class="responsive"><thead><tr><th scope="col">Alias</th><th scope="col">Delivers to</th><th scope="col"><span class="muted">Actions</span></th></tr></thead><tbody>${rows || '<tr><td colspan="3">No aliases.</td></tr>'}</tbody></table>`;
};

/** Queue entries per page of /admin/queue; later ones are reached through the "next" cursor. */
const QUEUE_PAGE_SIZE = 200;

const queuePage: Page = async (web, request) => {
  const now = web.clock?.() ?? new Date();
  const after = (request.query as Record<string, unknown>).after;
  // The same keyset cursor as GET /api/v1/queue ({entries, next}); the count is the store's, so
  // it is right however long the queue is.
  const [page, total] = await Promise.all([
    web.operations.outbound.queuePage({ limit: QUEUE_PAGE_SIZE, ...(typeof after === "string" && after !== "" ? { after } : {}) }),
    web.operations.outbound.countQueue(),
  ]);
  const entries = page.entries;
  const rows = entries
    .map((e) => {
      const path = `/api/v1/queue/${e.id}`;
      const recipients = e.recipients.map((r) => `${escapeHtml(r.address)}: ${escapeHtml(r.state)}${r.lastResult ? ` <span class="muted">(${escapeHtml(r.lastResult)})</span>` : ""}`).join("<br>");
      return `<tr data-queue-id="${e.id}"><td data-label="Id">${e.id}</td><td data-label="From">${escapeHtml(e.mailFrom || "<>")}</td><td data-label="Recipients">${recipients}</td><td data-label="State">${escapeHtml(queueState(e, now))}</td><td>
<button type="button" data-action="POST ${path}/retry" aria-label="Retry message ${e.id} now">Retry now</button>
${isHeld(e) ? `<button type="button" class="secondary" data-action="POST ${path}/release">Release</button>` : `<button type="button" class="secondary" data-action="POST ${path}/hold">Hold</button>`}
<button type="button" class="secondary" data-action="POST ${path}/bounce" data-confirm="Return message ${e.id} to its sender?">Bounce</button>
<button type="button" class="danger" data-action="DELETE ${path}" data-confirm="Delete message ${e.id} without delivering it and without telling the sender?" aria-label="Delete message ${e.id}">Delete</button></td></tr>`;
    })
    .join("");
  const paging = [
    typeof after === "string" && after !== "" ? '<a href="/admin/queue">First page</a>' : "",
    page.next !== null ? `<a href="/admin/queue?after=${encodeURIComponent(page.next)}" rel="next">Next page</a>` : "",
  ].filter((l) => l !== "");
  return `<p>${total} message(s) waiting for delivery to other servers.${entries.length < total ? ` This page shows ${entries.length} of them, oldest first.` : ""}</p>
<table class="responsive"><thead><tr><th scope="col">Id</th><th scope="col">From</th><th scope="col">Recipients</th><th scope="col">State</th><th scope="col"><span class="muted">Actions</span></th></tr></thead><tbody>${rows || '<tr><td colspan="5">The queue is empty.</td></tr>'}</tbody></table>${paging.length > 0 ? `\n<nav aria-label="Queue pages"><p>${paging.join(" · ")}</p></nav>` : ""}`;
};

const logPage: Page = async (web, request) => {
  const query = request.query as Record<string, string | undefined>;
  const event = ["accepted", "delivered", "deferred", "failed"].includes(query.event ?? "") ? (query.event as "accepted") : undefined;
  const text = typeof query.text === "string" ? query.text.slice(0, 200) : "";
  const entries = await web.deliveries.list({ event, text, limit: 200 });
  const option = (value: string, label: string) => `<option value="${value}"${(event ?? "") === value ? " selected" : ""}>${label}</option>`;
  const rows = entries.map((e) => `<tr><td data-label="Time">${escapeHtml(e.at.toISOString().replace("T", " ").slice(0, 19))}</td><td data-label="Event">${escapeHtml(e.event)}</td><td data-label="Queue id">${e.queueId ?? ""}</td><td data-label="From">${escapeHtml(e.from || "<>")}</td><td data-label="To">${escapeHtml(e.to.join(", "))}</td><td data-label="Detail" class="wrap">${escapeHtml(e.detail)}</td></tr>`).join("");
  return `<form class="inline" method="get" action="/admin/log"><div><label for="event">Event</label><select id="event" name="event">${option("", "any")}${option("accepted", "accepted")}${option("delivered", "delivered")}${option("deferred", "deferred")}${option("failed", "failed (bounced)")}</select></div><div><label for="text">Address or text</label><input id="text" name="text" type="search" value="${escapeHtml(text)}"></div><button type="submit">Filter</button></form>
<table class="responsive"><caption class="muted">Newest first; the last http.admin_delivery_log deliveries (kept in the store across restarts).</caption><thead><tr><th scope="col">Time (UTC)</th><th scope="col">Event</th><th scope="col">Queue id</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Detail</th></tr></thead><tbody>${rows || '<tr><td colspan="6">Nothing yet.</td></tr>'}</tbody></table>`;
};

const LOGIN_BODY = (area: string, api: string, label: string, autocomplete: string) => `<form data-api-form="POST ${api}" data-then="${area}">
<p><label for="login-name">${label}</label><input id="login-name" name="${area === "/admin" ? "name" : "address"}" required autocomplete="${autocomplete}" autocapitalize="none" spellcheck="false"></p>
<p><label for="login-password">Password</label><input id="login-password" name="password" type="password" required autocomplete="current-password"></p>
<p><label for="login-code">Code from your authenticator app (only if two-step sign-in is on)</label><input id="login-code" name="code" data-optional inputmode="numeric" autocomplete="one-time-code" maxlength="64" autocapitalize="none" spellcheck="false"></p>
<p><button type="submit">Sign in</button></p></form>
<p><button type="button" class="secondary" data-passkey-login="${api.replace(/\/session$/, "/passkeys/session")}" data-then="${area}">Use a passkey instead</button></p>`;

/** The signed-in admin's passkeys (auth/webauthn.ts): listed, added (password asked again), removed. */
const passkeysPage: Page = async (web, _request, session) => {
  if (!web.passkeys) return `<p>Passkeys are not available here.</p>`;
  const keys = await web.passkeys.list({ kind: "admin", name: session.subject });
  const when = (d: Date | null) => (d === null ? "never" : `${d.toISOString().replace("T", " ").slice(0, 16)} UTC`);
  const rows = keys.map((k) => `<tr><td data-label="Name">${escapeHtml(k.name)}</td><td data-label="Added">${escapeHtml(when(k.createdAt))}</td><td data-label="Last used">${escapeHtml(when(k.lastUsedAt))}</td><td><button type="button" class="danger" data-action="DELETE /api/v1/passkeys/${k.id}" data-confirm="Remove the passkey ${escapeHtml(k.name)}?" aria-label="Remove passkey ${escapeHtml(k.name)}">Remove</button></td></tr>`).join("");
  return `<p>Sign in to the admin pages with a passkey (security key, or your device's fingerprint, face or PIN) instead of the password and code.</p>
<table class="responsive"><caption class="muted">${keys.length} passkey(s) of ${escapeHtml(session.subject)}</caption><thead><tr><th scope="col">Name</th><th scope="col">Added</th><th scope="col">Last used</th><th scope="col"><span class="skip">Actions</span></th></tr></thead><tbody>${rows || `<tr><td colspan="4">No passkeys yet.</td></tr>`}</tbody></table>
<form data-passkey-register="/api/v1/passkeys" data-password-field="password">
<p><label for="passkey-name">Name of the passkey</label><input id="passkey-name" name="name" required maxlength="64" placeholder="YubiKey"></p>
<p><label for="passkey-current">Your password (asked again to be sure it is you)</label><input id="passkey-current" name="current" type="password" required autocomplete="current-password"></p>
<p><button type="submit">Add a passkey</button></p></form>`;
};

export function serveAssets(app: FastifyInstance, area: string): void {
  app.get(`${area}/assets/style.css`, async (_request, reply) => reply.header("cache-control", "max-age=300").type("text/css; charset=utf-8").send(WEB_CSS));
  app.get(`${area}/assets/app.js`, async (_request, reply) => reply.header("cache-control", "max-age=300").type("text/javascript; charset=utf-8").send(WEB_JS));
}

/** Plain HTTP from elsewhere than loopback gets a page saying where to go instead. */
export function refuseInsecure(request: FastifyRequest, reply: FastifyReply): boolean {
  if (isSecureEnough(request)) return false;
  void pageHeaders(reply.code(403)).send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>HTTPS required</title></head><body><p>These pages answer over HTTPS only: use https://${escapeHtml(String(request.headers.host ?? "this server").replace(/:\d+$/, ""))}${escapeHtml(request.url.split("?")[0] ?? "")}</p></body></html>`);
  return true;
}

export function registerAdminPages(app: FastifyInstance, context: HttpContext): void {
  const web = context.admin;
  if (web === undefined) return;
  serveAssets(app, "/admin");
  const keeper = adminSessionKeeper(web);
  app.get("/admin/login", async (request, reply) => {
    if (refuseInsecure(request, reply)) return reply;
    return pageHeaders(reply).send(renderPage({ title: "Sign in", area: "/admin", apiBase: "/api/v1", csrfToken: null, nav: [], current: "", who: null, signOut: null, body: LOGIN_BODY("/admin", "/api/v1/session", "Admin name", "username") }));
  });
  const pages: [string, string, Page][] = [
    ["/admin", "Dashboard", dashboard],
    ["/admin/domains", "Domains", domainsPage],
    ["/admin/domains/:domain", "Domain", domainPage],
    ["/admin/accounts", "Accounts", accountsPage],
    ["/admin/aliases", "Aliases", aliasesPage],
    ["/admin/queue", "Queue", queuePage],
    ["/admin/log", "Delivery log", logPage],
    ["/admin/passkeys", "Passkeys", passkeysPage],
  ];
  for (const [path, title, render] of pages) {
    app.get(path, async (request, reply) => {
      if (refuseInsecure(request, reply)) return reply;
      const session = await keeper.current(request);
      if (session === null) return reply.code(303).header("location", "/admin/login").send();
      let body: string;
      let code = 200;
      try {
        body = await render(web, request, session);
      } catch (error) {
        if (!(error instanceof AdminError)) throw error;
        code = error.kind === "not-found" ? 404 : 400;
        body = `<p class="bad">${escapeHtml(error.message)}</p>`;
      }
      const heading = path === "/admin/domains/:domain" ? (request.params as { domain: string }).domain : title;
      return pageHeaders(reply.code(code)).send(renderPage({ title: heading, area: "/admin", apiBase: "/api/v1", csrfToken: session.csrfToken, nav: NAV, current: path.replace("/:domain", ""), who: session.subject, signOut: "/api/v1/session", body }));
    });
  }
}
