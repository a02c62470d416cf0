// The TLSA records `mailroom dns` prints for this server's key: the ACME certificate and its next
// key, tls.cert_file, or the self-signed pair; the expected values are computed by openssl.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tlsaKeysOf } from "./tlsa-keys.js";

let dir = "";

function openssl(args: string[], input?: Buffer): Buffer {
  return execFileSync("openssl", args, { cwd: dir, input, stdio: ["pipe", "pipe", "pipe"] });
}

/** A key and a self-signed certificate at `<path>.key` / `<path>.crt`, valid for `days`. */
function makeCert(path: string, days: number): void {
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${path}.key`, "-out", `${path}.crt`, "-days", String(days), "-subj", "/CN=mx.example.org"]);
}

/** "3 1 1 <hex>" of a certificate's or a private key's public key, by openssl. */
function expected(file: string, kind: "cert" | "key"): string {
  const pub = kind === "cert" ? openssl(["x509", "-in", file, "-noout", "-pubkey"]) : openssl(["pkey", "-in", file, "-pubout"]);
  const der = openssl(["pkey", "-pubin", "-outform", "DER"], pub);
  return `3 1 1 ${openssl(["dgst", "-sha256", "-binary"], der).toString("hex")}`;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "mailroom-tlsa-keys-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("ACME: the current certificate's key and the pre-generated next key, with the renewal date", async () => {
  const data = join(dir, "acme-data");
  mkdirSync(join(data, "acme", "certificates"), { recursive: true });
  const base = join(data, "acme", "certificates", "mx.example.org");
  makeCert(base, 90);
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${base}.next.key`]);
  const report = await tlsaKeysOf({ hostname: "MX.example.org.", dataDir: data, certFile: null, acme: true });
  assert.equal(report.owner, "_25._tcp.mx.example.org.");
  assert.deepEqual(
    report.records.map((r) => r.value),
    [expected(`${base}.crt`, "cert"), expected(`${base}.next.key`, "key")],
  );
  assert.match(report.records[1]!.note, /next key: the renewal on \d{4}-\d\d-\d\d switches to it/);
  assert.deepEqual(report.warnings, []);
  // Close to the renewal: a warning that both records must be out by then.
  const late = await tlsaKeysOf({ hostname: "mx.example.org", dataDir: data, certFile: null, acme: true, now: new Date(Date.now() + 55 * 86_400_000) });
  assert.match(late.warnings.join("\n"), /renews on .* with the next key: both records must be in the DNS/);
});

test("ACME without a next key, and without a certificate: warnings instead of a record that would break", async () => {
  const data = join(dir, "acme-old");
  mkdirSync(join(data, "acme", "certificates"), { recursive: true });
  makeCert(join(data, "acme", "certificates", "mx.example.org"), 90);
  const old = await tlsaKeysOf({ hostname: "mx.example.org", dataDir: data, certFile: null, acme: true });
  assert.equal(old.records.length, 1);
  assert.match(old.warnings.join("\n"), /no next key .* makes a new key/);
  const none = await tlsaKeysOf({ hostname: "other.example.org", dataDir: data, certFile: null, acme: true });
  assert.deepEqual(none.records, []);
  assert.match(none.warnings[0]!, /no ACME certificate of other\.example\.org/);
});

test("tls.cert_file: its key, and the warning that its renewals happen elsewhere", async () => {
  makeCert(join(dir, "own"), 10);
  const report = await tlsaKeysOf({ hostname: "mx.example.org", dataDir: dir, certFile: join(dir, "own.crt"), acme: false });
  assert.deepEqual(report.records.map((r) => r.value), [expected(join(dir, "own.crt"), "cert")]);
  assert.match(report.warnings.join("\n"), /certbot --reuse-key/);
  assert.match(report.warnings.join("\n"), /expires on .*: if its replacement has a new key/);
});

test("the self-signed pair: both keys, since a client may be served either", async () => {
  const data = join(dir, "self");
  mkdirSync(join(data, "tls"), { recursive: true });
  makeCert(join(data, "tls", "selfsigned"), 3650);
  makeCert(join(data, "tls", "selfsigned-ecdsa"), 3650);
  const report = await tlsaKeysOf({ hostname: "mx.example.org", dataDir: data, certFile: null, acme: false });
  assert.deepEqual(
    report.records.map((r) => r.value),
    [expected(join(data, "tls", "selfsigned.crt"), "cert"), expected(join(data, "tls", "selfsigned-ecdsa.crt"), "cert")],
  );
  assert.deepEqual(report.warnings, []);
});
