import { test } from "node:test";
import assert from "node:assert/strict";
import { mtaStsPolicyId, mtaStsPolicyLines, mtaStsPolicyText } from "./mta-sts.js";

test("the policy is RFC 8461 §3.2 text with CRLF lines; mx defaults to the host name; the id changes with the policy", () => {
  const settings = { mtaStsMode: "enforce" as const, mtaStsMaxAge: 86_400, mtaStsMx: [] };
  assert.equal(mtaStsPolicyText(settings, "mx.example.org."), "version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmax_age: 86400\r\n");
  const two = { ...settings, mtaStsMx: ["MX1.example.org", "*.example.net"] };
  assert.equal(mtaStsPolicyText(two, "ignored"), "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.org\r\nmx: *.example.net\r\nmax_age: 86400\r\n");
  assert.match(mtaStsPolicyId(settings, "mx.example.org"), /^[0-9a-f]{20}$/);
  assert.notEqual(mtaStsPolicyId(settings, "mx.example.org"), mtaStsPolicyId({ ...settings, mtaStsMode: "testing" }, "mx.example.org"));
});

test("the id `mailroom dns` prints is the digest of exactly the policy text served", async () => {
  const { recommendedRecords } = await import("../admin/operations/dns-records.js");
  const settings = { mtaStsMode: "enforce" as const, mtaStsMaxAge: 604800, mtaStsMx: [] };
  const lines = mtaStsPolicyLines(settings, "mx.example.org");
  const printed = recommendedRecords({ domain: "example.org", hostname: "mx.example.org", listeners: [], dkim: [], mtaStsPolicy: lines }).records.find((r) => r.kind === "mta-sts");
  assert.equal(printed?.value, `v=STSv1; id=${mtaStsPolicyId(settings, "mx.example.org")}`);
});
