import { test } from "node:test";
import assert from "node:assert/strict";
import { authenticationResultsField, formatDateTime, receivedField, receivedProtocol, returnPathField, tracePrefix } from "./trace-headers.js";
import { parseHeaderBlock } from "./header-fields.js";

const date = new Date(Date.UTC(2024, 1, 29, 7, 5, 9));

test("formatDateTime writes RFC 5322 date-time in UTC", () => {
  assert.equal(formatDateTime(date), "Thu, 29 Feb 2024 07:05:09 +0000");
});

test("receivedProtocol follows RFC 3848 and RFC 6531", () => {
  assert.equal(receivedProtocol({ esmtp: false, tls: true, authenticated: true, smtputf8: false }), "SMTP");
  assert.equal(receivedProtocol({ esmtp: true, tls: false, authenticated: false, smtputf8: false }), "ESMTP");
  assert.equal(receivedProtocol({ esmtp: true, tls: true, authenticated: false, smtputf8: false }), "ESMTPS");
  assert.equal(receivedProtocol({ esmtp: true, tls: false, authenticated: true, smtputf8: false }), "ESMTPA");
  assert.equal(receivedProtocol({ esmtp: true, tls: true, authenticated: true, smtputf8: false }), "ESMTPSA");
  assert.equal(receivedProtocol({ esmtp: true, tls: true, authenticated: true, smtputf8: true }), "UTF8SMTPSA");
});

test("receivedField has the RFC 5321 §4.4 clauses in order and one recipient", () => {
  const field = receivedField({
    heloName: "client.example",
    clientAddress: "192.0.2.7",
    clientName: null,
    byHost: "mx.example.org",
    protocol: "ESMTPS",
    id: "abc123",
    recipient: "bob@example.org",
    tls: { protocol: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384" },
    date,
  });
  const unfolded = field.replace(/\r\n\t/g, " ");
  assert.match(unfolded, /^Received: from client\.example \(\[192\.0\.2\.7\]\) by mx\.example\.org \(using TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384\) with ESMTPS id abc123 for <bob@example\.org>; Thu, 29 Feb 2024 07:05:09 \+0000\r\n$/);
  for (const line of field.split("\r\n")) assert.ok(line.length <= 78, line);
});

test("a hostile HELO name cannot add a header field or break the comment", () => {
  const field = receivedField({
    heloName: "evil)\r\nX-Injected: yes (",
    clientAddress: "2001:db8::1",
    clientName: null,
    byHost: "mx.example.org",
    protocol: "ESMTP",
    id: "x",
    recipient: "a>\r\nBcc: c@d",
    tls: null,
    date,
  });
  const fields = parseHeaderBlock(Buffer.from(`${field}\r\n`));
  assert.equal(fields.length, 1);
  assert.equal(fields[0]!.name.toLowerCase(), "received");
  assert.ok(!field.includes("\r\nX-Injected"));
  assert.match(field, /\[IPv6:2001:db8::1\]/);
  assert.match(field, /for <aBcc: c@d>/);
});

test("Return-Path and Authentication-Results are single fields; the prefix joins them", () => {
  assert.equal(returnPathField(""), "Return-Path: <>\r\n");
  const ar = authenticationResultsField("Authentication-Results: mx.example.org;\r\n spf=pass smtp.mailfrom=a@b.example;\n dkim=none\r\nX-Evil: 1");
  const fields = parseHeaderBlock(Buffer.from(`${ar}\r\n`));
  assert.equal(fields.length, 1);
  assert.match(ar, /^Authentication-Results: mx\.example\.org; spf=pass/);
  const prefix = tracePrefix([returnPathField("a@b.example"), ar]);
  assert.equal(parseHeaderBlock(Buffer.concat([prefix, Buffer.from("\r\n")])).length, 2);
});
