// TLSA matching (RFC 6698 §2.1, RFC 7672 §3.1) with real certificates made by openssl here, and
// the association data computed by openssl too (the usual `openssl x509 -pubkey | openssl pkey
// -pubin -outform DER | openssl dgst`), so our selector and matching code is checked against an
// independent implementation.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isUsableTlsa, spkiSha256, tlsaMatches, tlsaText, verifyChain, type TlsaRecord } from "./tlsa.js";

let dir = "";
const certs: Record<string, X509Certificate> = {};

function openssl(args: string[], input?: Buffer): Buffer {
  return execFileSync("openssl", args, { cwd: dir, input, stdio: ["pipe", "pipe", "pipe"] });
}

/** An EC key and a certificate; signed by `issuer` when given, else self-signed. */
function makeCert(name: string, subject: string, options: { issuer?: string; ca?: boolean; san?: string; days?: number; startDate?: string; endDate?: string } = {}): void {
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`]);
  const ext = [options.ca ? "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign" : "basicConstraints=CA:FALSE", options.san ? `subjectAltName=${options.san}` : ""].join("\n");
  writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
  openssl(["req", "-new", "-key", `${name}.key`, "-subj", subject, "-out", `${name}.csr`]);
  if (options.startDate) {
    // `openssl ca` is the one that takes explicit dates: a minimal database for it.
    writeFileSync(join(dir, "index.txt"), "");
    writeFileSync(join(dir, "ca.cnf"), `[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n`);
    writeFileSync(join(dir, "serial"), "1000\n");
    openssl(["ca", "-batch", "-config", "ca.cnf", "-cert", `${options.issuer}.crt`, "-keyfile", `${options.issuer}.key`, "-in", `${name}.csr`, "-out", `${name}.crt`, "-startdate", options.startDate, "-enddate", options.endDate!, "-extfile", `${name}.ext`, "-notext"]);
  } else {
    const signer = options.issuer ? ["-CA", `${options.issuer}.crt`, "-CAkey", `${options.issuer}.key`, "-CAcreateserial"] : ["-signkey", `${name}.key`];
    openssl(["x509", "-req", "-in", `${name}.csr`, "-days", String(options.days ?? 30), ...signer, "-extfile", `${name}.ext`, "-out", `${name}.crt`]);
  }
  certs[name] = new X509Certificate(readFileSync(join(dir, `${name}.crt`)));
}

/** Association data as openssl computes it: selector 0 (cert DER) or 1 (SPKI DER), hashed by `digest` or not. */
function association(name: string, selector: 0 | 1, digest: "sha256" | "sha512" | null): Buffer {
  const der = selector === 0 ? openssl(["x509", "-in", `${name}.crt`, "-outform", "DER"]) : openssl(["pkey", "-pubin", "-outform", "DER"], openssl(["x509", "-in", `${name}.crt`, "-noout", "-pubkey"]));
  if (digest === null) return der;
  return openssl(["dgst", `-${digest}`, "-binary"], der);
}

function rec(usage: number, selector: 0 | 1, matchingType: 0 | 1 | 2, name: string): TlsaRecord {
  return { usage, selector, matchingType, data: association(name, selector, matchingType === 0 ? null : matchingType === 1 ? "sha256" : "sha512") };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "mailroom-tlsa-"));
  makeCert("ca", "/CN=Test DANE TA", { ca: true, days: 365 });
  makeCert("mx", "/CN=mx.example.test", { issuer: "ca", san: "DNS:mx.example.test" });
  makeCert("wild", "/CN=wild", { issuer: "ca", san: "DNS:*.example.test" });
  makeCert("other", "/CN=mx.other.test", { issuer: "ca", san: "DNS:mx.other.test" });
  makeCert("stranger", "/CN=mx.example.test", { san: "DNS:mx.example.test" });
  // A server certificate from the TA (no CA) that signs a certificate for another MX name.
  makeCert("forged", "/CN=mx.victim.test", { issuer: "other", san: "DNS:mx.victim.test" });
  makeCert("expired", "/CN=mx.example.test", { issuer: "ca", san: "DNS:mx.example.test", startDate: "20200101000000Z", endDate: "20210101000000Z" });
});

after(() => rmSync(dir, { recursive: true, force: true }));

test("every selector and matching type matches what openssl computes, and nothing else", () => {
  for (const selector of [0, 1] as const) {
    for (const matchingType of [0, 1, 2] as const) {
      const record = rec(3, selector, matchingType, "mx");
      assert.ok(isUsableTlsa(record));
      assert.ok(tlsaMatches(record, certs.mx!), `3 ${selector} ${matchingType}`);
      assert.ok(!tlsaMatches(record, certs.other!), `3 ${selector} ${matchingType} against another certificate`);
    }
  }
  assert.equal(spkiSha256(certs.mx!), association("mx", 1, "sha256").toString("hex"));
  assert.match(tlsaText(rec(3, 1, 1, "mx")), /^3 1 1 [0-9a-f]{64}$/);
});

test("usable records: DANE-TA and DANE-EE with known selectors, matching types and digest lengths only", () => {
  const data = Buffer.alloc(32, 1);
  assert.ok(isUsableTlsa({ usage: 3, selector: 1, matchingType: 1, data }));
  assert.ok(isUsableTlsa({ usage: 2, selector: 0, matchingType: 1, data }));
  assert.ok(!isUsableTlsa({ usage: 0, selector: 1, matchingType: 1, data }), "PKIX-TA is ignored (RFC 7672 §3.1.3)");
  assert.ok(!isUsableTlsa({ usage: 1, selector: 1, matchingType: 1, data }), "PKIX-EE is ignored");
  assert.ok(!isUsableTlsa({ usage: 4, selector: 1, matchingType: 1, data }));
  assert.ok(!isUsableTlsa({ usage: 3, selector: 2, matchingType: 1, data }));
  assert.ok(!isUsableTlsa({ usage: 3, selector: 1, matchingType: 3, data }));
  assert.ok(!isUsableTlsa({ usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(31) }), "a SHA-256 digest is 32 octets");
  assert.ok(!isUsableTlsa({ usage: 3, selector: 1, matchingType: 2, data }), "a SHA-512 digest is 64 octets");
  assert.ok(!isUsableTlsa({ usage: 3, selector: 0, matchingType: 0, data: Buffer.alloc(0) }));
});

test("DANE-EE ignores names, issuers and dates: a self-signed, an expired and a misnamed certificate all match", () => {
  for (const name of ["stranger", "expired", "other"]) {
    const result = verifyChain([certs[name]!], [rec(3, 1, 1, name)], ["mx.example.test", "example.test"]);
    assert.ok(result.ok && result.usage === "DANE-EE", name);
  }
});

test("DANE-TA: the chain must verify up to the TA in it, the name must match, dates count below the TA", () => {
  const names = ["mx.example.test", "example.test"];
  const chain = [certs.mx!, certs.ca!];
  for (const record of [rec(2, 0, 1, "ca"), rec(2, 1, 1, "ca"), rec(2, 1, 2, "ca"), rec(2, 0, 0, "ca")]) {
    const result = verifyChain(chain, [record], names);
    assert.ok(result.ok && result.usage === "DANE-TA", tlsaText(record).slice(0, 8));
  }
  // Wildcard as the whole leftmost label (RFC 7672 §3.2.3).
  assert.ok(verifyChain([certs.wild!, certs.ca!], [rec(2, 1, 1, "ca")], names).ok);
  // The recipient domain is a reference identifier too.
  assert.ok(verifyChain([certs.other!, certs.ca!], [rec(2, 1, 1, "ca")], ["mx.x.test", "mx.other.test"]).ok);

  const misnamed = verifyChain([certs.other!, certs.ca!], [rec(2, 1, 1, "ca")], names);
  assert.ok(!misnamed.ok && misnamed.resultType === "certificate-host-mismatch");
  const expired = verifyChain([certs.expired!, certs.ca!], [rec(2, 1, 1, "ca")], names);
  assert.ok(!expired.ok && expired.resultType === "certificate-expired", !expired.ok ? expired.reason : "");
  // A self-signed leaf presented beside the TA certificate does not chain to it.
  const unchained = verifyChain([certs.stranger!, certs.ca!], [rec(2, 1, 1, "ca")], names);
  assert.ok(!unchained.ok && unchained.resultType === "validation-failure");
  // The TA must be in the chain presented; a TA record for the leaf itself is no TA.
  const absent = verifyChain([certs.mx!], [rec(2, 1, 1, "ca")], names);
  assert.ok(!absent.ok && absent.resultType === "certificate-not-trusted");
  assert.ok(!verifyChain([certs.mx!], [rec(2, 1, 1, "mx")], names).ok);
  // Every signature verifies up to the TA, but the middle certificate is no CA: refused.
  const forged = verifyChain([certs.forged!, certs.other!, certs.ca!], [rec(2, 1, 1, "ca")], ["mx.victim.test"]);
  assert.ok(!forged.ok && forged.resultType === "validation-failure" && /not a CA/.test(forged.reason), !forged.ok ? forged.reason : "accepted");
});

test("a mismatch names the server's key, and unusable records are no authentication at all", () => {
  const result = verifyChain([certs.mx!], [rec(3, 1, 1, "other")], ["mx.example.test"]);
  assert.ok(!result.ok && result.resultType === "certificate-not-trusted");
  assert.match(result.reason, new RegExp(`server key SHA-256 ${spkiSha256(certs.mx!)}`));
  const pkix = verifyChain([certs.mx!, certs.ca!], [rec(1, 1, 1, "mx"), rec(0, 1, 1, "ca")], ["mx.example.test"]);
  assert.ok(!pkix.ok, "PKIX-EE/PKIX-TA records are ignored even when they would match");
  assert.ok(!verifyChain([], [rec(3, 1, 1, "mx")], ["mx.example.test"]).ok);
});
