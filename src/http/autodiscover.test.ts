import { test } from "node:test";
import assert from "node:assert/strict";
import { emailFromPoxRequest, renderPoxResponse } from "./autodiscover.js";

test("the address is read from Outlook's request, with or without a namespace prefix; DOCTYPE and entities are refused", () => {
  const body = (inner: string) => `<?xml version="1.0"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request>${inner}</Request></Autodiscover>`;
  assert.equal(emailFromPoxRequest(body("<EMailAddress> alice@example.org </EMailAddress>")), "alice@example.org");
  assert.equal(emailFromPoxRequest(body("<a:EMailAddress>bob@example.org</a:EMailAddress>")), "bob@example.org");
  assert.equal(emailFromPoxRequest(body("")), null);
  assert.equal(emailFromPoxRequest(`<!DOCTYPE x [<!ENTITY e "alice@example.org">]>${body("<EMailAddress>&e;</EMailAddress>")}`), null);
});

test("one Protocol per type, the first server offered (implicit TLS), values escaped", () => {
  const xml = renderPoxResponse("a&b@example.org", [
    { service: "imap", host: "mx.example.org", port: 993, socket: "SSL" },
    { service: "imap", host: "mx.example.org", port: 143, socket: "STARTTLS" },
    { service: "smtp", host: "mx.example.org", port: 587, socket: "STARTTLS" },
  ]);
  assert.equal([...xml.matchAll(/<Type>IMAP<\/Type>/g)].length, 1);
  assert.match(xml, /<Port>993<\/Port>[\s\S]*<Encryption>SSL<\/Encryption>/);
  assert.match(xml, /<Type>SMTP<\/Type>[\s\S]*<Port>587<\/Port>[\s\S]*<Encryption>TLS<\/Encryption>/);
  assert.match(xml, /<LoginName>a&amp;b@example\.org<\/LoginName>/);
  assert.ok(!xml.includes("POP3"));
});
