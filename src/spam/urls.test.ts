// Link domains for URIBL lookups: found in plain text, HTML attributes and across chunk borders;
// bounded in bytes read and domains returned, whatever the input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import fc from "fast-check";
import { linkDomains, listDomain } from "./urls.js";

test("domains of http(s) links in text and in href attributes, reduced to two labels, each once", async () => {
  const message = 'Subject: hi\r\n\r\nsee http://www.Shop.Example.TEST/x?y and <a href=3D"https://login.bank.test:8443/">here</a> and https://user@shop.example.test/ and ftp://no.test/';
  assert.deepEqual(await linkDomains(Readable.from([Buffer.from(message)]), { maxBytes: 1 << 20, maxDomains: 10 }), ["example.test", "bank.test"]);
  assert.equal(listDomain("a.b.c.example.org."), "example.org");
});

test("a link split between two chunks is still found; the domain cap holds", async () => {
  const chunks = [Buffer.from("text http://www.spl"), Buffer.from("it.test/path more")];
  assert.deepEqual(await linkDomains(Readable.from(chunks), { maxBytes: 1 << 20, maxDomains: 10 }), ["split.test"]);
  const many = Array.from({ length: 50 }, (_, i) => `http://d${i}.test/`).join(" ");
  assert.equal((await linkDomains(Readable.from([Buffer.from(many)]), { maxBytes: 1 << 20, maxDomains: 5 })).length, 5);
});

test("hostile input: any bytes give a bounded list of well-formed domains", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), async (parts) => {
      const withLinks = parts.map((p, i) => Buffer.concat([Buffer.from(p), Buffer.from(i % 2 ? " http://x.test " : "https://")]));
      const domains = await linkDomains(Readable.from(withLinks), { maxBytes: 2000, maxDomains: 4 });
      assert.ok(domains.length <= 4);
      for (const d of domains) assert.match(d, /^[a-z0-9-]+(\.[a-z0-9-]+)?$/);
    }),
    { numRuns: 200 },
  );
});
