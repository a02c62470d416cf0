// ACME HTTP-01 (RFC 8555 §8.3): the CA fetches http://<name>/.well-known/acme-challenge/<token> on
// port 80 and expects the key authorization, as text, while net/acme.ts has that challenge pending.
// Any other token is 404; nothing else is ever served from this path.
import type { FastifyInstance } from "fastify";
import type { HttpContext } from "./context.js";

/** RFC 8555 §8.1: a token is base64url, at least 128 bits; bounded here so a probe cannot make us work. */
const TOKEN = /^[A-Za-z0-9_-]{16,256}$/;

export function registerAcmeChallenge(app: FastifyInstance, context: HttpContext): void {
  app.get<{ Params: { token: string } }>("/.well-known/acme-challenge/:token", async (request, reply) => {
    const token = request.params.token;
    // Any node answers: with a shared store the order may be another node's (net/acme.ts).
    const answer = TOKEN.test(token) ? await context.acmeChallenges?.httpResponseAnywhere(token) : undefined;
    if (answer === undefined) return reply.code(404).type("text/plain").send("no such challenge\n");
    context.log.info("acme.http_answered", { token: token.slice(0, 12), remote: request.ip });
    return reply.type("text/plain").send(answer);
  });
}
