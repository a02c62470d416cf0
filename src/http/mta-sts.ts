// MTA-STS policy for our own domains (RFC 8461 §3.2): served only over HTTPS at
// https://mta-sts.<domain>/.well-known/mta-sts.txt, text/plain, CRLF lines. The policy and its id
// are pure functions of the config, so `mailroom dns` prints the _mta-sts TXT id that changes
// exactly when the served policy does (RFC 8461 §3.1).
import { createHash } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { HttpSettings } from "../config/index.js";
import { isDomainName } from "./client-settings.js";
import type { HttpContext } from "./context.js";

export const MTA_STS_PATH = "/.well-known/mta-sts.txt";

export function mtaStsPolicyLines(settings: Pick<HttpSettings, "mtaStsMode" | "mtaStsMaxAge" | "mtaStsMx">, hostname: string): string[] {
  const mx = settings.mtaStsMx.length > 0 ? settings.mtaStsMx : [hostname.replace(/\.$/, "")];
  return ["version: STSv1", `mode: ${settings.mtaStsMode}`, ...mx.map((name) => `mx: ${name.toLowerCase()}`), `max_age: ${settings.mtaStsMaxAge}`];
}

export function mtaStsPolicyText(settings: Pick<HttpSettings, "mtaStsMode" | "mtaStsMaxAge" | "mtaStsMx">, hostname: string): string {
  return mtaStsPolicyLines(settings, hostname).join("\r\n") + "\r\n";
}

/** RFC 8461 §3.1: id is 1-32 alphanumerics; here a digest of the served policy text, so it changes with it. */
export function mtaStsPolicyIdOfLines(lines: readonly string[]): string {
  return createHash("sha256").update(lines.join("\r\n") + "\r\n").digest("hex").slice(0, 20);
}

export function mtaStsPolicyId(settings: Pick<HttpSettings, "mtaStsMode" | "mtaStsMaxAge" | "mtaStsMx">, hostname: string): string {
  return mtaStsPolicyIdOfLines(mtaStsPolicyLines(settings, hostname));
}

export function registerMtaSts(app: FastifyInstance, context: HttpContext): void {
  app.get(MTA_STS_PATH, async (request, reply) => {
    const host = request.hostname.replace(/:\d+$/, "").toLowerCase();
    if (!host.startsWith("mta-sts.") || !isDomainName(host.slice("mta-sts.".length)) || !(await context.isLocalDomain(host.slice("mta-sts.".length)))) {
      return reply.code(404).type("text/plain").send("no MTA-STS policy for this host name\n");
    }
    // RFC 8461 §3.3: the policy is fetched over HTTPS only; a plain-HTTP answer would be ignored.
    if (request.protocol !== "https") return reply.code(404).type("text/plain").send("the MTA-STS policy is served over HTTPS only (RFC 8461 §3.3)\n");
    return reply.type("text/plain; charset=utf-8").send(mtaStsPolicyText(context.settings, context.hostname));
  });
}
