import { test } from "node:test";
import assert from "node:assert/strict";
import { originForm } from "./http-service.js";

test("RFC 9112 §3.2.2: an absolute-form target becomes its path, and its authority the Host", () => {
  const request = (url: string) => ({ url, headers: { host: "proxy.example.net:3128" } as Record<string, string | string[] | undefined> });
  const proxied = request("http://Autoconfig.Example.org/mail/config-v1.1.xml?emailaddress=a%40example.org");
  assert.equal(originForm(proxied), "/mail/config-v1.1.xml?emailaddress=a%40example.org");
  assert.equal(proxied.headers.host, "autoconfig.example.org");
  const bare = request("http://example.org:8080");
  assert.equal(originForm(bare), "/");
  assert.equal(bare.headers.host, "example.org:8080");
  assert.equal(originForm(request("https://example.org?x=1")), "/?x=1");
  const origin = request("/healthz");
  assert.equal(originForm(origin), "/healthz");
  assert.equal(origin.headers.host, "proxy.example.net:3128", "origin-form leaves Host alone");
  // Not a URL we understand (userinfo, another scheme, "*"): left as is, so the router answers 404.
  for (const odd of ["http://user@example.org/x", "ftp://example.org/x", "*"]) assert.equal(originForm(request(odd)), odd);
});
