// /metrics in the Prometheus text format. Counters and gauges live in observability/metrics.ts;
// this route only guards and renders them. Guard: with http.metrics_token, "Authorization: Bearer
// <token>" (compared in constant time); without it, loopback peers only (the socket's peer, not
// X-Forwarded-For, unless that came from a trusted proxy).
import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { isLoopbackAddress } from "./client-settings.js";
import type { HttpContext } from "./context.js";

function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S{1,512})$/i.exec(header ?? "");
  if (!match) return false;
  const given = Buffer.from(match[1]!);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function registerMetrics(app: FastifyInstance, context: HttpContext): void {
  app.get("/metrics", async (request, reply) => {
    const metrics = context.metrics;
    if (metrics === null) return reply.code(404).type("text/plain").send("metrics are not collected\n");
    const token = context.settings.metricsToken;
    if (token !== null) {
      if (!tokenMatches(request.headers.authorization, token)) return reply.code(401).header("www-authenticate", 'Bearer realm="metrics"').type("text/plain").send("a bearer token is required (http.metrics_token)\n");
    } else if (!isLoopbackAddress(request.ip)) {
      return reply.code(403).type("text/plain").send("metrics answer loopback only; set http.metrics_token to read them from elsewhere\n");
    }
    return reply.type(metrics.contentType).send(await metrics.render());
  });
}
