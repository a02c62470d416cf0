// signOutbound: RSA and Ed25519 signatures that verifyInbound accepts, and refusal of bad keys.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { Readable } from "node:stream";
import { DkimSigningError, signOutbound, signOutboundWithKeys } from "./sign-outbound.js";
import { verifyInbound } from "./verify-inbound.js";
import { createTableResolver } from "./dns-resolver.js";

const raw = Buffer.from(
  "From: Dana <dana@example.com>\r\nTo: eve@example.net\r\nSubject: report\r\nDate: Tue, 2 Jan 2024 09:00:00 +0000\r\n" +
    "Message-ID: <r-1@example.com>\r\n\r\nNumbers attached.\r\n",
);

async function verify(signed: Buffer, keyRecord: string) {
  return verifyInbound({
    message: signed,
    clientIp: "203.0.113.9",
    heloName: "out.example.com",
    mailFrom: "dana@example.com",
    receivingHost: "mx.example.net",
    resolver: createTableResolver({ "k1._domainkey.example.com": { TXT: [[keyRecord]] } }),
  });
}

test("rsa-sha256, relaxed/relaxed: the signature verifies", async () => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const header = await signOutbound(Readable.from([raw]), {
    domain: "example.com",
    selector: "k1",
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    algorithm: "rsa-sha256",
    signTime: new Date("2024-01-02T09:00:00Z"),
  });
  assert.match(header, /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example\.com;/);
  assert.match(header, /s=k1;/);
  assert.match(header, /t=1704186000;/);
  assert.match(header.replace(/\r\n\s+/g, " "), /h=[^;]*From/i);
  assert.ok(header.endsWith("\r\n"));
  const record = `v=DKIM1; k=rsa; p=${publicKey.export({ type: "spki", format: "der" }).toString("base64")}`;
  const verdict = await verify(Buffer.concat([Buffer.from(header), raw]), record);
  assert.deepEqual(verdict.dkim, [{ result: "pass", domain: "example.com", selector: "k1", aligned: true }]);
  // Relaxed header canonicalisation tolerates refolding and whitespace changes on the way.
  const refolded = Buffer.from(raw.toString().replace("Subject: report", "Subject:   report"));
  assert.equal((await verify(Buffer.concat([Buffer.from(header), refolded]), record)).dkim[0]?.result, "pass");
});

test("ed25519-sha256 (RFC 8463): the signature verifies against the raw public key", async () => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const header = await signOutbound(raw, {
    domain: "example.com",
    selector: "k1",
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    algorithm: "ed25519-sha256",
  });
  assert.match(header, /a=ed25519-sha256;/);
  // RFC 8463 §4: p= is the bare 32-byte key, not SPKI.
  const spki = publicKey.export({ type: "spki", format: "der" });
  const record = `v=DKIM1; k=ed25519; p=${spki.subarray(spki.length - 32).toString("base64")}`;
  assert.equal((await verify(Buffer.concat([Buffer.from(header), raw]), record)).dkim[0]?.result, "pass");
});

test("a key that does not match the algorithm, or is not a key, is refused", async () => {
  const { privateKey } = generateKeyPairSync("ed25519");
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  await assert.rejects(signOutbound(raw, { domain: "example.com", selector: "k1", privateKeyPem: pem, algorithm: "rsa-sha256" }), DkimSigningError);
  await assert.rejects(signOutbound(raw, { domain: "example.com", selector: "k1", privateKeyPem: "not a key", algorithm: "rsa-sha256" }), DkimSigningError);
});

test("two keys in one pass: both signatures verify, share one body hash, and come in key order", async () => {
  const ed = generateKeyPairSync("ed25519");
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  let reads = 0;
  const stream = new Readable({
    read() {
      reads++;
      this.push(reads === 1 ? raw : null);
    },
  });
  const fields = await signOutboundWithKeys(stream, "example.com", [
    { selector: "k1", algorithm: "ed25519-sha256", privateKeyPem: ed.privateKey.export({ type: "pkcs8", format: "pem" }).toString() },
    { selector: "k2", algorithm: "rsa-sha256", privateKeyPem: rsa.privateKey.export({ type: "pkcs8", format: "pem" }).toString() },
  ]);
  const unfolded = fields.replace(/\r\n[ \t]+/g, " ");
  const lines = unfolded.split("\r\n").filter((l) => l !== "");
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /a=ed25519-sha256;.*s=k1;/);
  assert.match(lines[1]!, /a=rsa-sha256;.*s=k2;/);
  assert.equal(/bh=([^;]+);/.exec(lines[0]!)?.[1], /bh=([^;]+);/.exec(lines[1]!)?.[1]);
  const edSpki = ed.publicKey.export({ type: "spki", format: "der" });
  const verdict = await verifyInbound({
    message: Buffer.concat([Buffer.from(fields), raw]),
    clientIp: "203.0.113.9",
    heloName: "out.example.com",
    mailFrom: "dana@example.com",
    receivingHost: "mx.example.net",
    resolver: createTableResolver({
      "k1._domainkey.example.com": { TXT: [[`v=DKIM1; k=ed25519; p=${edSpki.subarray(edSpki.length - 32).toString("base64")}`]] },
      "k2._domainkey.example.com": { TXT: [[`v=DKIM1; k=rsa; p=${rsa.publicKey.export({ type: "spki", format: "der" }).toString("base64")}`]] },
    }),
  });
  assert.deepEqual(verdict.dkim.map((s) => `${s.selector}:${s.result}`).sort(), ["k1:pass", "k2:pass"]);
  // A bad key among good ones refuses the lot rather than sending half-signed mail.
  await assert.rejects(signOutboundWithKeys(raw, "example.com", [{ selector: "k1", algorithm: "rsa-sha256", privateKeyPem: ed.privateKey.export({ type: "pkcs8", format: "pem" }).toString() }]), DkimSigningError);
});
