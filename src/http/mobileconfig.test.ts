import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { silentLogger } from "../observability/log.js";
import { createProfileSigner, renderMobileconfig } from "./mobileconfig.js";

const run = promisify(execFile);

test("a profile from a trusted certificate is signed (CMS, verifiable with the CA); a self-signed one is left unsigned", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mobileconfig-"));
  try {
    const f = (name: string) => join(dir, name);
    await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.crt"), "-days", "2", "-subj", "/CN=Test CA", "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign"]);
    await run("openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("srv.key"), "-out", f("srv.csr"), "-subj", "/CN=mx.example.org"]);
    await writeFile(f("ext"), "subjectAltName=DNS:mx.example.org\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n");
    await run("openssl", ["x509", "-req", "-in", f("srv.csr"), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-CAcreateserial", "-out", f("srv.crt"), "-days", "1", "-extfile", f("ext")]);
    const profile = renderMobileconfig("alice@example.org", "example.org", "mx.example.org", [
      { service: "imap", host: "mx.example.org", port: 993, socket: "SSL" },
      { service: "smtp", host: "mx.example.org", port: 465, socket: "SSL" },
    ])!;
    const signed = await createProfileSigner({ certFile: f("srv.crt"), keyFile: f("srv.key"), extraCaFile: f("ca.crt") }, silentLogger)(Buffer.from(profile));
    assert.ok(signed, "signed");
    await writeFile(f("signed.der"), signed);
    const { stdout } = await run("openssl", ["smime", "-verify", "-inform", "DER", "-in", f("signed.der"), "-CAfile", f("ca.crt"), "-purpose", "any"]);
    assert.equal(stdout, profile);
    // Self-signed (not chaining to any trusted root): unsigned.
    assert.equal(await createProfileSigner({ certFile: f("ca.crt"), keyFile: f("ca.key") }, silentLogger)(Buffer.from(profile)), null);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("no profile without both an incoming and an outgoing TLS server", () => {
  assert.equal(renderMobileconfig("a@example.org", "example.org", "mx.example.org", [{ service: "imap", host: "h", port: 993, socket: "SSL" }]), null);
});
