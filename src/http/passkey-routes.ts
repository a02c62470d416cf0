// The HTTP side of WebAuthn passkeys (auth/webauthn.ts) shared by the admin API and the account
// API: where the ceremony runs (RP ID and origin from the request), the bodies' checks, and the
// errors as the APIs' JSON errors.
import type { FastifyRequest } from "fastify";
import { AdminError } from "../admin/operations/index.js";
import { PasskeyError, type Passkeys, type RelyingParty } from "../auth/webauthn.js";
import type { CredentialOwner } from "../store/index.js";
import type { AdminWebContext } from "./admin-context.js";
import { HttpFailure } from "./admin-api.js";

/**
 * The relying party of a request: its host name is the RP ID (W3C WebAuthn §5.1.4.1: the
 * effective domain), and the origin the browser reports must be this scheme://host[:port]
 * exactly. Behind a trusted proxy, fastify's protocol and host come from X-Forwarded-*.
 */
export function relyingParty(request: FastifyRequest): RelyingParty {
  return { rpId: request.hostname, origin: `${request.protocol}://${request.host}` };
}

export function passkeysOf(web: AdminWebContext): Passkeys {
  if (!web.passkeys) throw new AdminError("refused", "passkeys are not available here");
  return web.passkeys;
}

/** A WebAuthn response object from the body: a bounded JSON object with an id. */
export function responseOf(body: Record<string, unknown>): Record<string, unknown> {
  const response = body.response;
  if (response === null || typeof response !== "object" || Array.isArray(response) || typeof (response as { id?: unknown }).id !== "string") throw new AdminError("invalid-argument", "response must be the credential's JSON (id, rawId, response, type)");
  return response as Record<string, unknown>;
}

export async function withPasskeyErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof PasskeyError) {
      if (error.kind === "not-found") throw new AdminError("not-found", error.message);
      if (error.kind === "conflict" || error.kind === "too-many") throw new AdminError("conflict", error.message);
      throw new AdminError("invalid-argument", error.message);
    }
    throw error;
  }
}

/** A passkey sign-in of `kind`; the signed-in name, or the API's error. */
export async function passkeySignIn(web: AdminWebContext, kind: CredentialOwner["kind"], request: FastifyRequest, body: Record<string, unknown>, setRetryAfter: (seconds: number) => void): Promise<string> {
  if (!web.passkeySignIn) throw new AdminError("refused", "passkeys are not available here");
  const result = await web.passkeySignIn(kind, responseOf(body), relyingParty(request), request.ip, request.protocol === "https");
  if (result.ok) return result.name;
  if (result.reason === "throttled") {
    setRetryAfter(Math.ceil((result.retryAfterMs ?? 60_000) / 1000));
    throw new HttpFailure(429, "throttled", "too many failed sign-ins; try again later");
  }
  if (result.reason === "temporary-failure") throw new HttpFailure(503, "unavailable", "sign-in is unavailable right now; try again");
  throw new HttpFailure(401, "invalid-credentials", "the passkey was not accepted");
}
