import assert from "node:assert/strict";
import { test } from "node:test";
import { AcmeChallenges } from "../net/index.js";
import { silentLogger } from "../observability/log.js";
import { buildHttpApp } from "./http-service.js";
import type { HttpContext } from "./context.js";
import { parseConfigText } from "../config/index.js";

function settings(): HttpContext["settings"] {
  return parseConfigText("").http;
}

test("HTTP-01: a pending token answers its key authorization (case kept); unknown, malformed or removed tokens are 404", async () => {
  const challenges = new AcmeChallenges();
  const context: HttpContext = {
    hostname: "mx.example.org",
    settings: settings(),
    servers: () => [],
    isLocalDomain: async () => false,
    readiness: async () => [],
    metrics: null,
    acmeChallenges: challenges,
    log: silentLogger,
  };
  const app = await buildHttpApp(context);
  try {
    const token = "AbCdEfGhIjKlMnOpQrStUvWx_-12";
    challenges.setHttp(token, `${token}.thumbprint`);
    const found = await app.inject({ method: "GET", url: `/.well-known/acme-challenge/${token}` });
    assert.equal(found.statusCode, 200);
    assert.equal(found.body, `${token}.thumbprint`);
    assert.match(String(found.headers["content-type"]), /^text\/plain/);
    assert.equal((await app.inject({ method: "GET", url: `/.well-known/acme-challenge/${token.toLowerCase()}` })).statusCode, 404, "tokens are case-sensitive");
    assert.equal((await app.inject({ method: "GET", url: "/.well-known/acme-challenge/..%2F..%2Fetc%2Fpasswd" })).statusCode, 404);
    assert.equal((await app.inject({ method: "GET", url: `/.well-known/acme-challenge/${"a".repeat(300)}` })).statusCode, 404);
    challenges.deleteHttp(token);
    assert.equal((await app.inject({ method: "GET", url: `/.well-known/acme-challenge/${token}` })).statusCode, 404);
  } finally {
    await app.close();
  }
});
