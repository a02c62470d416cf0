import { test } from "node:test";
import assert from "node:assert/strict";
import type { FastifyRequest } from "fastify";
import { clearedCookie, crossOrigin, readCookies, sessionCookie, sha256 } from "./web-session.js";

test("cookies are read by name (the first wins), bounded; set with HttpOnly, Secure and SameSite=Strict", () => {
  const jar = readCookies("a=1; mailroom_admin=abc; mailroom_admin=second; junk; =x");
  assert.equal(jar.get("mailroom_admin"), "abc");
  assert.equal(jar.get("a"), "1");
  assert.equal(jar.size, 2);
  assert.equal(readCookies(undefined).size, 0);
  assert.equal(sessionCookie("s", "v", "/", 60), "s=v; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Strict");
  assert.match(clearedCookie("s", "/account"), /^s=; Path=\/account; Max-Age=0; HttpOnly; Secure; SameSite=Strict$/);
  assert.equal(sha256("x"), "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881");
});

test("an Origin must be this host; none is allowed (same-origin GETs and old browsers), 'null' is not", () => {
  const request = (origin: string | undefined) => ({ headers: { host: "mail.example.org", ...(origin === undefined ? {} : { origin }) } }) as unknown as FastifyRequest;
  assert.equal(crossOrigin(request(undefined)), false);
  assert.equal(crossOrigin(request("https://mail.example.org")), false);
  assert.equal(crossOrigin(request("https://evil.example")), true);
  assert.equal(crossOrigin(request("https://mail.example.org.evil.example")), true);
  assert.equal(crossOrigin(request("null")), true);
  assert.equal(crossOrigin(request("not a url")), true);
});
