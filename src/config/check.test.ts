import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCertificate } from "../../test/harness/certificates.js";
import { checkConfigFiles } from "./check.js";
import type { HostNameResolver } from "./host-name.js";
import { ConfigError, parseConfigText } from "./load.js";

const DAY = 86_400_000;
const NOW = new Date();
/** mx.example.org resolves; nothing else does. */
const resolver: HostNameResolver = {
  addresses: async (name) => {
    if (name === "mx.example.org") return ["192.0.2.25"];
    throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
  },
  nameOf: async () => {
    throw new Error("no PTR");
  },
};

async function problemsOf(toml: string, now = NOW): Promise<string[]> {
  try {
    await checkConfigFiles(parseConfigText(toml, { hostname: "mx.example.org" }), { now, resolver });
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
}

const tlsToml = (cert: string, key: string, hostname = "mx.example.org") => `[server]\nhostname = "${hostname}"\n[tls]\ncert_file = ${JSON.stringify(cert)}\nkey_file = ${JSON.stringify(key)}\n`;

test("certificate problems each stop config check with a line naming the key", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-check-"));
  try {
    const good = await makeCertificate(dir, "good", { hostname: "mx.example.org", notBefore: new Date(NOW.getTime() - DAY), notAfter: new Date(NOW.getTime() + 90 * DAY) });
    const other = await makeCertificate(dir, "other", { hostname: "mx.example.org", notBefore: new Date(NOW.getTime() - DAY), notAfter: new Date(NOW.getTime() + 90 * DAY) });
    const expired = await makeCertificate(dir, "expired", { hostname: "mx.example.org", notBefore: new Date("2020-01-01T00:00:00Z"), notAfter: new Date("2020-02-01T00:00:00Z") });
    const future = await makeCertificate(dir, "future", { hostname: "mx.example.org", notBefore: new Date(NOW.getTime() + 10 * DAY), notAfter: new Date(NOW.getTime() + 100 * DAY) });

    assert.deepEqual(await problemsOf(tlsToml(good.certFile, good.keyFile)), []);
    assert.deepEqual(await problemsOf(tlsToml(join(dir, "missing.crt"), good.keyFile)), [`config error: tls.cert_file: ${join(dir, "missing.crt")}: no such file`]);
    assert.deepEqual(await problemsOf(tlsToml(good.certFile, join(dir, "missing.key"))), [`config error: tls.key_file: ${join(dir, "missing.key")}: no such file`]);
    await mkdir(join(dir, "a-directory"));
    assert.deepEqual(await problemsOf(tlsToml(join(dir, "a-directory"), good.keyFile)), [`config error: tls.cert_file: ${join(dir, "a-directory")}: is a directory`]);
    assert.deepEqual(await problemsOf(tlsToml(good.keyFile, good.keyFile)), [`config error: tls.cert_file: ${good.keyFile}: no PEM certificate in it`]);
    assert.deepEqual(await problemsOf(tlsToml(good.certFile, good.certFile)), [`config error: tls.key_file: ${good.certFile}: no PEM private key in it`]);
    assert.deepEqual(await problemsOf(tlsToml(good.certFile, other.keyFile)), [`config error: tls.key_file: ${other.keyFile}: the key does not match the certificate in ${good.certFile}`]);
    assert.deepEqual(await problemsOf(tlsToml(expired.certFile, expired.keyFile)), [`config error: tls.cert_file: ${expired.certFile}: the certificate expired on 2020-02-01T00:00:00.000Z`]);
    assert.match((await problemsOf(tlsToml(future.certFile, future.keyFile)))[0] ?? "", /^config error: tls\.cert_file: .*future\.crt: the certificate is not valid before \d{4}-/);
    // The same certificate, checked at another time.
    assert.match((await problemsOf(tlsToml(good.certFile, good.keyFile), new Date(NOW.getTime() + 200 * DAY)))[0] ?? "", /the certificate expired on/);
    const corrupt = join(dir, "corrupt.crt");
    await writeFile(corrupt, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    assert.match((await problemsOf(tlsToml(corrupt, good.keyFile)))[0] ?? "", /^config error: tls\.cert_file: .*corrupt\.crt: not a valid certificate/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("warnings: a certificate that does not name the host, close to expiry, a host name that is no resolvable FQDN", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-check-"));
  try {
    const soon = await makeCertificate(dir, "soon", { hostname: "other.example.net", notBefore: new Date(NOW.getTime() - DAY), notAfter: new Date(NOW.getTime() + 3 * DAY) });
    const warnings = await checkConfigFiles(parseConfigText(tlsToml(soon.certFile, soon.keyFile)), { resolver });
    assert.equal(warnings.length, 2, warnings.join("\n"));
    assert.match(warnings[0]!, /^warning: tls\.cert_file: the certificate expires on /);
    assert.match(warnings[1]!, /^warning: tls\.cert_file: the certificate does not name server\.hostname "mx\.example\.org" \(it names other\.example\.net\)/);
    assert.deepEqual(await checkConfigFiles(parseConfigText('[server]\nhostname = "mx.example.org"'), { resolver }), []);
    assert.match((await checkConfigFiles(parseConfigText('[server]\nhostname = "vm"'), { resolver }))[0] ?? "", /^warning: server\.hostname "vm" is not a fully qualified domain name/);
    assert.match((await checkConfigFiles(parseConfigText('[server]\nhostname = "mail.nowhere.test"'), { resolver }))[0] ?? "", /^warning: server\.hostname "mail\.nowhere\.test" does not resolve \(ENOTFOUND\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a missing smarthost password file is a problem", async () => {
  const problems = await problemsOf('[server]\nhostname = "mx.example.org"\n[outbound]\nsmarthost = "relay.example.net"\nsmarthost_username = "u"\nsmarthost_password_file = "/nonexistent/pw"\n');
  assert.deepEqual(problems, ["config error: outbound.smarthost_password_file: /nonexistent/pw: no such file"]);
});

test("[acme]: a missing or non-PEM directory_ca_file and a non-https directory URL are errors; no HTTP port is a warning", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-check-acme-"));
  try {
    const notPem = join(dir, "ca.txt");
    await writeFile(notPem, "hello");
    const bad = parseConfigText(`[server]\nhostname = "mx.example.org"\n[acme]\nenabled = true\ndirectory_url = "http://acme.example/dir"\ndirectory_ca_file = ${JSON.stringify(notPem)}\n`, { cwd: dir, env: {} });
    await assert.rejects(checkConfigFiles(bad, { resolver }), (error: Error) => /acme\.directory_ca_file: .*no PEM certificate/.test(error.message) && /acme\.directory_url: expected an https:\/\/ URL/.test(error.message));
    const noHttp = parseConfigText(`[server]\nhostname = "mx.example.org"\n[http]\nenabled = false\n[acme]\nenabled = true\n`, { cwd: dir, env: {} });
    const warnings = await checkConfigFiles(noHttp, { resolver });
    assert.ok(warnings.some((w) => /\[acme\] is enabled but the HTTP service has no port/.test(w)), warnings.join("\n"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
