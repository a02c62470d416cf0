// Orchestrator probes: /healthz says the process answers (no dependencies checked, so a slow
// store never gets a live process killed); /readyz says it can serve mail: store reachable and
// every configured listener bound. 503 with the failing checks otherwise.
import type { FastifyInstance } from "fastify";
import type { HttpContext } from "./context.js";

export function registerHealth(app: FastifyInstance, context: HttpContext): void {
  app.get("/healthz", async (_request, reply) => reply.type("text/plain").send("ok\n"));
  app.get("/readyz", async (_request, reply) => {
    let checks;
    try {
      checks = await context.readiness();
    } catch (error) {
      checks = [{ name: "readiness", ok: false, detail: error instanceof Error ? error.message : String(error) }];
    }
    const ok = checks.every((c) => c.ok);
    const body = checks.map((c) => `${c.name}: ${c.ok ? "ok" : "FAIL"}${c.detail ? ` (${c.detail})` : ""}`).join("\n") + "\n";
    return reply.code(ok ? 200 : 503).type("text/plain").send(body);
  });
}
