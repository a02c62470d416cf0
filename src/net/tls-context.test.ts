import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { X509Certificate } from "node:crypto";
import { createServer, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connect, createServer as createTlsServer, type TLSSocket } from "node:tls";
import { generate } from "selfsigned";
import { silentLogger } from "../observability/log.js";
import { Connection } from "./connection.js";
import { cipherStringOf, selfSignedAddresses, TlsContextProvider } from "./tls-context.js";

async function withTempDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-tls-"));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function writePair(dir: string, name: string): Promise<{ certFile: string; keyFile: string }> {
  const pems = await generate([{ name: "commonName", value: name }], { keySize: 2048, algorithm: "sha256" });
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  await writeFile(certFile, pems.cert);
  await writeFile(keyFile, pems.private);
  return { certFile, keyFile };
}

/** A TCP server that upgrades each connection with the provider's current context and echoes. */
async function startEchoServer(provider: TlsContextProvider): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    const connection = new Connection(socket, { log: silentLogger });
    void (async () => {
      try {
        await connection.upgradeToTls(provider.current(), 5000);
        for await (const chunk of connection) await connection.write(chunk);
      } catch {
        connection.destroy();
      }
    })();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, port: (server.address() as AddressInfo).port };
}

async function openClient(port: number): Promise<TLSSocket> {
  const client = connect({ host: "127.0.0.1", port, rejectUnauthorized: false });
  await once(client, "secureConnect");
  return client;
}

async function echo(client: TLSSocket, text: string): Promise<string> {
  client.write(text);
  const [chunk] = (await once(client, "data")) as [Buffer];
  return chunk.toString();
}

test("reload swaps the certificate for new clients while an open connection keeps working", async () => {
  await withTempDir(async (dir) => {
    const files = await writePair(dir, "first.example");
    const provider = await TlsContextProvider.open({ ...files, dataDir: dir, hostname: "mx.example", minVersion: "TLSv1.2", log: silentLogger });
    const { server, port } = await startEchoServer(provider);
    try {
      const early = await openClient(port);
      const firstFingerprint = early.getPeerX509Certificate()?.fingerprint256;
      assert.equal(firstFingerprint, provider.certificate.fingerprint256);
      assert.equal(await echo(early, "one"), "one");

      await writePair(dir, "second.example");
      await provider.reload();
      const late = await openClient(port);
      const secondFingerprint = late.getPeerX509Certificate()?.fingerprint256;
      assert.notEqual(secondFingerprint, firstFingerprint);
      assert.equal(secondFingerprint, provider.certificate.fingerprint256);

      assert.equal(await echo(early, "still here"), "still here", "the open connection is untouched");
      assert.equal(await echo(late, "two"), "two");
      early.destroy();
      late.destroy();
    } finally {
      server.close();
    }
  });
});

test("a failed reload keeps the old certificate and reports the error", async () => {
  await withTempDir(async (dir) => {
    const files = await writePair(dir, "keep.example");
    const provider = await TlsContextProvider.open({ ...files, dataDir: dir, hostname: "mx.example", minVersion: "TLSv1.2", log: silentLogger });
    const before = provider.certificate.fingerprint256;
    const context = provider.current();
    await writeFile(files.certFile, "not a certificate");
    await assert.rejects(provider.reload(), /tls: /);
    assert.equal(provider.certificate.fingerprint256, before);
    assert.equal(provider.current(), context);

    const other = await generate([{ name: "commonName", value: "other" }], { keySize: 2048 });
    await writeFile(files.certFile, other.cert);
    await assert.rejects(provider.reload(), /tls: /, "a certificate that does not match the key is refused");
    assert.equal(provider.current(), context);
  });
});

test("without configured files a self-signed certificate is generated once, 0600 key, and reused", async () => {
  await withTempDir(async (dir) => {
    const options = { certFile: null, keyFile: null, dataDir: dir, hostname: "mail.example.net", minVersion: "TLSv1.2" as const, log: silentLogger };
    const first = await TlsContextProvider.open(options);
    assert.ok(first.certificate.selfSigned);
    assert.equal(first.certificate.certFile, join(dir, "tls", "selfsigned.crt"));
    assert.equal((await stat(join(dir, "tls", "selfsigned.key"))).mode & 0o777, 0o600);
    const validYears = (first.certificate.validTo.getTime() - Date.now()) / (365 * 86_400_000);
    assert.ok(validYears > 9.9 && validYears < 10.1, `valid about 10 years, got ${validYears}`);

    const second = await TlsContextProvider.open(options);
    assert.equal(second.certificate.fingerprint256, first.certificate.fingerprint256, "reused on a later start");

    const renamed = await TlsContextProvider.open({ ...options, hostname: "other.example.net" });
    assert.notEqual(renamed.certificate.fingerprint256, first.certificate.fingerprint256, "a new host name gets a new certificate");
  });
});

test("the SNI callback serves the current context to tls.createServer", async () => {
  await withTempDir(async (dir) => {
    const provider = await TlsContextProvider.open({ certFile: null, keyFile: null, dataDir: dir, hostname: "localhost", minVersion: "TLSv1.2", log: silentLogger });
    const server = createTlsServer({ SNICallback: provider.sniCallback }, (socket) => socket.end("hi"));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const client = connect({ host: "127.0.0.1", port: (server.address() as AddressInfo).port, servername: "localhost", rejectUnauthorized: false });
      await once(client, "secureConnect");
      const peer = client.getPeerX509Certificate();
      assert.ok(provider.certificates.some((certificate) => certificate.fingerprint256 === peer?.fingerprint256));
      assert.ok(peer?.checkHost("localhost"));
      assert.ok(peer?.checkIP("127.0.0.1"));
      client.destroy();
    } finally {
      server.close();
    }
  });
});

/** The certificate a client is served when it offers only this TLS 1.2 suite, or the error code. */
async function servedFor(port: number, cipher: string): Promise<string> {
  const client = connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ciphers: cipher, maxVersion: "TLSv1.2" });
  try {
    await once(client, "secureConnect");
    return client.getPeerX509Certificate()?.fingerprint256 ?? "none";
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? "error";
  } finally {
    client.destroy();
  }
}

test("self-signed: an ECDSA P-256 certificate beside the RSA one; each is served for its suites", async () => {
  await withTempDir(async (dir) => {
    const provider = await TlsContextProvider.open({ certFile: null, keyFile: null, dataDir: dir, hostname: "localhost", minVersion: "TLSv1.2", log: silentLogger });
    assert.deepEqual(provider.certificates.map((c) => [c.keyType, c.certFile]), [
      ["RSA 2048", join(dir, "tls", "selfsigned.crt")],
      ["EC P-256", join(dir, "tls", "selfsigned-ecdsa.crt")],
    ]);
    assert.equal((await stat(join(dir, "tls", "selfsigned-ecdsa.key"))).mode & 0o777, 0o600);
    const [rsa, ecdsa] = provider.certificates.map((c) => c.fingerprint256);
    const { server, port } = await startEchoServer(provider);
    try {
      assert.equal(await servedFor(port, "ECDHE-ECDSA-AES128-GCM-SHA256"), ecdsa);
      assert.equal(await servedFor(port, "ECDHE-RSA-AES128-GCM-SHA256"), rsa);
    } finally {
      server.close();
    }
  });
});

test("a data dir from before keeps its RSA certificate and gains the ECDSA one; SIGHUP reload keeps both", async () => {
  await withTempDir(async (dir) => {
    const options = { certFile: null, keyFile: null, dataDir: dir, hostname: "localhost", minVersion: "TLSv1.2" as const, log: silentLogger };
    await TlsContextProvider.open(options);
    const old = await TlsContextProvider.open(options);
    const rsaBefore = old.certificate.fingerprint256;
    await rm(join(dir, "tls", "selfsigned-ecdsa.crt"));
    await rm(join(dir, "tls", "selfsigned-ecdsa.key"));
    const upgraded = await TlsContextProvider.open(options);
    assert.equal(upgraded.certificate.fingerprint256, rsaBefore, "the RSA certificate users already trust is kept");
    assert.deepEqual(upgraded.certificates.map((c) => c.keyType), ["RSA 2048", "EC P-256"]);
    await upgraded.reload();
    assert.deepEqual(upgraded.certificates.map((c) => c.fingerprint256), [rsaBefore, upgraded.certificates[1]!.fingerprint256]);
  });
});

test("cipher settings: profile names, explicit strings get TLS 1.3 suites, an unknown string names the key", async () => {
  assert.match(cipherStringOf("intermediate"), /^TLS_AES_128_GCM_SHA256:.*ECDHE-ECDSA-AES128-GCM-SHA256/);
  assert.doesNotMatch(cipherStringOf("intermediate"), /CBC|-SHA:|AES128-SHA$|^AES/);
  assert.equal(cipherStringOf("ECDHE-RSA-AES256-GCM-SHA384"), "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:ECDHE-RSA-AES256-GCM-SHA384");
  assert.equal(cipherStringOf("TLS_AES_256_GCM_SHA384:ECDHE-RSA-AES256-GCM-SHA384"), "TLS_AES_256_GCM_SHA384:ECDHE-RSA-AES256-GCM-SHA384");
  await withTempDir(async (dir) => {
    await assert.rejects(
      TlsContextProvider.open({ certFile: null, keyFile: null, dataDir: dir, hostname: "localhost", minVersion: "TLSv1.2", ciphers: { mx: "NO-SUCH-SUITE" }, log: silentLogger }),
      /^Error: tls\.ciphers_mx: OpenSSL knows no cipher suite in "NO-SUCH-SUITE"$/,
    );
  });
});

test("named certificates: served by SNI through Connection, the host name's one as default, replaced and removed without a restart", async () => {
  await withTempDir(async (dir) => {
    const provider = await TlsContextProvider.open({ certFile: null, keyFile: null, dataDir: dir, hostname: "mx.example.org", minVersion: "TLSv1.2", log: silentLogger });
    const named = async (name: string) => {
      const pems = await generate([{ name: "commonName", value: name }], { keyType: "ec", curve: "P-256", algorithm: "sha256", extensions: [{ name: "subjectAltName", altNames: [{ type: 2, value: name }] }] });
      return pems;
    };
    const server = createServer((socket) => {
      const connection = new Connection(socket, { log: silentLogger, sni: (servername) => provider.contextFor(servername) });
      void connection.upgradeToTls(provider.current(), 5000).then(() => connection.close(), () => {});
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    const served = async (servername?: string) => {
      const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...(servername === undefined ? {} : { servername }) });
      await once(socket, "secureConnect");
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      return fingerprint;
    };
    try {
      // The self-signed pair (RSA and ECDSA): the client gets one of the two.
      const base = provider.certificates.map((certificate) => certificate.fingerprint256);
      const autoconfig = await named("autoconfig.example.org");
      const summary = provider.setNamedCertificate(autoconfig.cert, autoconfig.private, "test");
      assert.equal(await served("autoconfig.example.org"), summary.fingerprint256);
      assert.equal(await served("AUTOCONFIG.example.org"), summary.fingerprint256, "SNI is case-insensitive");
      assert.ok(base.includes(await served("other.example.org")), "other names get the default");
      assert.ok(base.includes(await served()), "no SNI: the default, while the host name has no certificate of its own");
      const mx = await named("mx.example.org");
      const mxSummary = provider.setNamedCertificate(mx.cert, mx.private, "test");
      assert.equal(await served(), mxSummary.fingerprint256, "no SNI: the host name's certificate once it has one");
      const renewed = await named("mx.example.org");
      const renewedSummary = provider.setNamedCertificate(renewed.cert, renewed.private, "test");
      assert.notEqual(renewedSummary.fingerprint256, mxSummary.fingerprint256);
      assert.equal(await served("mx.example.org"), renewedSummary.fingerprint256, "a renewal replaces it");
      provider.removeNamedCertificate("mx.example.org");
      assert.ok(base.includes(await served("mx.example.org")));
      assert.throws(() => provider.setNamedCertificate(renewed.cert, autoconfig.private, "test"), /does not belong/);
      assert.equal(await served("autoconfig.example.org"), summary.fingerprint256, "a refused pair changes nothing");
    } finally {
      server.close();
    }
  });
});

test("a self-signed certificate names loopback and the configured bind addresses only: no wildcard, link-local or interface address, the host name once", () => {
  assert.deepEqual(selfSignedAddresses("mx.example.org", []), ["127.0.0.1", "::1"], "nothing configured: loopback only, whatever the interfaces");
  assert.deepEqual(selfSignedAddresses("mx.example.org", ["::", "0.0.0.0", "192.0.2.10", "2001:DB8:0::10", "fe80::1", "127.0.0.1", "192.0.2.10"]), ["127.0.0.1", "::1", "192.0.2.10", "2001:db8::10"]);
  assert.deepEqual(selfSignedAddresses("192.0.2.10", ["192.0.2.10", "2001:db8::10"]), ["127.0.0.1", "::1", "2001:db8::10"], "an IP host name is named once, by the host entry");
});

test("a self-signed certificate naming other addresses (every interface's, as an earlier version wrote) is replaced; the same addresses keep it", async () => {
  await withTempDir(async (dir) => {
    const options = { certFile: null, keyFile: null, dataDir: dir, hostname: "mail.example.net", minVersion: "TLSv1.2" as const, log: silentLogger };
    const leaky = await TlsContextProvider.open({ ...options, bindAddresses: ["198.51.100.7", "::"] });
    const sans = async () => new X509Certificate(await readFile(join(dir, "tls", "selfsigned.crt"))).subjectAltName ?? "";
    assert.match(await sans(), /IP Address:198\.51\.100\.7/);
    const kept = await TlsContextProvider.open({ ...options, bindAddresses: ["::", "198.51.100.7"] });
    assert.equal(kept.certificate.fingerprint256, leaky.certificate.fingerprint256, "the same addresses: reused");
    const narrowed = await TlsContextProvider.open({ ...options, bindAddresses: ["::"] });
    assert.notEqual(narrowed.certificate.fingerprint256, leaky.certificate.fingerprint256, "an address no longer bound: regenerated");
    assert.doesNotMatch(await sans(), /198\.51\.100\.7/);
    assert.match(await sans(), /IP Address:127\.0\.0\.1/);
  });
});
