// `mailroom config check` through the real binary: certificate and key problems exit 78 with a
// line naming the key; a host name that is not a resolvable FQDN is a warning, in config check
// and in the start banner.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeCertificate } from "../harness/certificates.js";
import { makeScratch, mailroomBin, runMailroom, startServeProcess } from "../harness/mailroom-process.js";
import { chmod, writeFile } from "node:fs/promises";
import { spawnSync } from "node:child_process";

const DAY = 86_400_000;

test("config check: missing, mismatched, expired and not-yet-valid certificates exit 78, each named", async () => {
  const s = await makeScratch();
  try {
    const now = Date.now();
    const good = await makeCertificate(s.dir, "good", { hostname: "localhost", notBefore: new Date(now - DAY), notAfter: new Date(now + 90 * DAY) });
    const other = await makeCertificate(s.dir, "other", { hostname: "localhost", notBefore: new Date(now - DAY), notAfter: new Date(now + 90 * DAY) });
    const expired = await makeCertificate(s.dir, "expired", { hostname: "localhost", notBefore: new Date("2020-01-01T00:00:00Z"), notAfter: new Date("2020-02-01T00:00:00Z") });
    const future = await makeCertificate(s.dir, "future", { hostname: "localhost", notBefore: new Date(now + 30 * DAY), notAfter: new Date(now + 120 * DAY) });
    const check = async (cert: string, key: string) => {
      await writeFile(s.configFile, `[server]\nhostname = "localhost"\n[tls]\ncert_file = ${JSON.stringify(cert)}\nkey_file = ${JSON.stringify(key)}\n`);
      return runMailroom(["config", "check"], { env: s.env });
    };
    const ok = await check(good.certFile, good.keyFile);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^config ok: /);
    const cases: [string, string, RegExp][] = [
      [join(s.dir, "nope.crt"), good.keyFile, /^config error: tls\.cert_file: .*nope\.crt: no such file$/m],
      [good.certFile, join(s.dir, "nope.key"), /^config error: tls\.key_file: .*nope\.key: no such file$/m],
      [good.certFile, other.keyFile, /^config error: tls\.key_file: .*other\.key: the key does not match the certificate in .*good\.crt$/m],
      [expired.certFile, expired.keyFile, /^config error: tls\.cert_file: .*expired\.crt: the certificate expired on 2020-02-01T00:00:00\.000Z$/m],
      [future.certFile, future.keyFile, /^config error: tls\.cert_file: .*future\.crt: the certificate is not valid before /m],
    ];
    for (const [cert, key, message] of cases) {
      const result = await check(cert, key);
      assert.equal(result.code, 78, `${cert} ${key}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, message);
    }
  } finally {
    await s.cleanup();
  }
});

test("a host name that is not a resolvable FQDN: a warning in config check and in the start banner", async () => {
  const s = await makeScratch(`[server]\nhostname = "vm"\n[auth]\nargon2_memory_kib = 1024\nargon2_time_cost = 1\n[[listeners]]\nprotocol = "smtp"\naddress = "127.0.0.1"\nport = 0\n`);
  try {
    const check = await runMailroom(["config", "check"], { env: s.env });
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /^warning: server\.hostname "vm" is not a fully qualified domain name/m);
    const server = await startServeProcess(s.env);
    try {
      assert.match(server.banner, /^warning: server\.hostname "vm" is not a fully qualified domain name/m);
    } finally {
      await server.stop();
    }
  } finally {
    await s.cleanup();
  }
});

test("config check: a key file the checking user cannot read exits 78 (EACCES)", { skip: process.getuid?.() === 0 ? false : "needs root, to run the check as nobody" }, async () => {
  const s = await makeScratch();
  try {
    const now = Date.now();
    const cert = await makeCertificate(s.dir, "mx", { hostname: "localhost", notBefore: new Date(now - DAY), notAfter: new Date(now + 90 * DAY) });
    await chmod(cert.keyFile, 0o600);
    await writeFile(s.configFile, `[server]\nhostname = "localhost"\n[tls]\ncert_file = ${JSON.stringify(cert.certFile)}\nkey_file = ${JSON.stringify(cert.keyFile)}\n`);
    // As nobody (65534), as the server user would read it on a reload.
    const result = spawnSync(process.execPath, [mailroomBin(), "config", "check"], { env: { ...process.env, ...s.env }, uid: 65534, gid: 65534, encoding: "utf8", timeout: 30_000 });
    assert.equal(result.status, 78, `${result.stdout}${result.stderr}`);
    assert.match(result.stderr, /^config error: tls\.key_file: .*mx\.key: cannot be read \(EACCES\)$/m);
  } finally {
    await s.cleanup();
  }
});
