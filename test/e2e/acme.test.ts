// ACME (RFC 8555) against a real pebble, Let's Encrypt's test CA (Debian's `pebble`, installed by
// .ci/run): Mailroom orders certificates for mx.example.org (and mta-sts./autoconfig. of its
// domain), pebble validates them over real sockets, by HTTP-01 on Mailroom's HTTP port or by
// TLS-ALPN-01 (RFC 8737) on its HTTPS port, resolving the names through the loopback DNS server.
// Checked: the certificate reaches every listener by SNI without a restart (and is the default for
// a client without SNI), a restart reuses the stored certificate and orders nothing, renewal at two
// thirds of the lifetime swaps the certificate while an open connection keeps working, revocation
// shows at pebble's management API, and a name pebble cannot validate fails with a retry scheduled.
// PEBBLE_VA_NOSLEEP=1 keeps validation fast; PEBBLE_VA_ALWAYS_VALID is never set: every
// validation here is real.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate, createHash, createPublicKey } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connect as connectTls, type PeerCertificate } from "node:tls";
import { promisify } from "node:util";
import { createMemoryLogger } from "../../src/observability/log.js";
import { createAdmin } from "../../src/server/compose.js";
import { startPebble as startPebbleFor, type Pebble } from "../harness/pebble.js";
import { openTls, startFullServer, type FullServer } from "../harness/full-server.js";
import { runMailroom } from "../harness/mailroom-process.js";

const exec = promisify(execFile);
const NAMES = ["mx.example.org", "mta-sts.example.org", "autoconfig.example.org"];

/** Let's Encrypt's test CA validating our names through a loopback DNS server (harness/pebble.ts). */
const startPebble = (options: { validitySeconds?: number } = {}): Promise<Pebble> => startPebbleFor(NAMES, options);

function acmeToml(pebble: Pebble, extra: string): string {
  return (
    `[http]\naddress = "127.0.0.1"\nhttp_port = ${pebble.httpPort}\nhttps_port = ${pebble.tlsPort}\n` +
    `[acme]\nenabled = true\ndirectory_url = "${pebble.directoryUrl}"\ndirectory_ca_file = ${JSON.stringify(pebble.caFile)}\ncontact = ["postmaster@example.org"]\nretry_min = "2s"\n${extra}\n`
  );
}

/** The certificate a listener presents to a client asking for `servername` (or none). */
async function servedCertificate(port: number, servername: string | null): Promise<PeerCertificate> {
  const socket = connectTls({ host: "127.0.0.1", port, rejectUnauthorized: false, ...(servername === null ? {} : { servername }) });
  await once(socket, "secureConnect");
  const certificate = socket.getPeerCertificate();
  socket.destroy();
  return certificate;
}

/** A pebble-issued certificate's serial, as Node prints it (upper-case hex). */
function serialOf(certificate: PeerCertificate): string {
  return certificate.serialNumber.toUpperCase().replace(/^0+/, "");
}

/** SHA-256 of a key's SubjectPublicKeyInfo: the data of a TLSA 3 1 1 record. */
function spkiOfKey(pem: string): string {
  return createHash("sha256").update(createPublicKey(pem).export({ type: "spki", format: "der" })).digest("hex");
}

function spkiOfCertificate(certificate: PeerCertificate): string {
  return createHash("sha256").update(new X509Certificate(certificate.raw).publicKey.export({ type: "spki", format: "der" })).digest("hex");
}

function normalSerial(serial: string | null | undefined): string {
  return (serial ?? "").toUpperCase().replace(/^0+/, "");
}

async function managementStatus(pebble: Pebble, serial: string): Promise<string> {
  const { stdout } = await exec("curl", ["-sS", "--cacert", pebble.caFile, `https://127.0.0.1:${pebble.managementPort}/cert-status-by-serial/${serial.toLowerCase()}`]);
  return (JSON.parse(stdout) as { Status: string }).Status;
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function issued(server: FullServer, name: string): string | null {
  return server.server.acme!.status().find((s) => s.name === name)?.serial ?? null;
}

test("HTTP-01: certificates for every name, served by SNI on SMTP, IMAP, POP3 and HTTPS, the default without SNI; a restart reuses them", async () => {
  const pebble = await startPebble();
  const log = createMemoryLogger();
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-acme-"));
  let server: FullServer | null = null;
  try {
    server = await startFullServer({ log, dataDir, protocols: ["smtp", "imaps", "pop3"], extraToml: acmeToml(pebble, 'challenges = ["http-01"]') });
    await createAdmin(server.server.config, server.server.store).addDomain("example.org");
    // The check started with the server may predate the domain; the second one sees its names.
    await server.server.acme!.checkNow();
    await server.server.acme!.checkNow();
    const status = server.server.acme!.status();
    for (const name of NAMES) {
      const entry = status.find((s) => s.name === name);
      assert.ok(entry?.serial, `${name}: ${JSON.stringify(entry)}`);
      assert.ok(entry.renewAt!.getTime() > entry.validFrom!.getTime() && entry.renewAt!.getTime() < entry.validTo!.getTime());
      const lifetime = entry.validTo!.getTime() - entry.validFrom!.getTime();
      assert.ok(Math.abs(entry.renewAt!.getTime() - entry.validFrom!.getTime() - (lifetime * 2) / 3) < 1000, "renewal at two thirds of the lifetime");
    }
    // Pebble fetches each token (from more than one "perspective" on some versions): at least once per name.
    assert.ok(log.records.filter((r) => r.event === "acme.http_answered").length >= 3, "pebble fetched the tokens over HTTP");
    assert.ok(!log.records.some((r) => r.event === "acme.alpn_answered"));
    const serial = normalSerial(issued(server, "mx.example.org"));

    // Every listener, by SNI: the issued certificate, signed by pebble's intermediate.
    const imaps = await servedCertificate(server.portOf("imaps"), "mx.example.org");
    assert.equal(serialOf(imaps), serial);
    assert.match(String(imaps.issuer.CN ?? ""), /Pebble/i);
    const smtp = await openTls("smtp", "127.0.0.1", server.portOf("smtp"), { rejectUnauthorized: false, servername: "mx.example.org" });
    assert.equal(serialOf(smtp.getPeerCertificate()), serial, "SMTP STARTTLS");
    smtp.destroy();
    const pop3 = await openTls("pop3", "127.0.0.1", server.portOf("pop3"), { rejectUnauthorized: false, servername: "mx.example.org" });
    assert.equal(serialOf(pop3.getPeerCertificate()), serial, "POP3 STLS");
    pop3.destroy();
    const https = await servedCertificate(pebble.tlsPort, "mta-sts.example.org");
    assert.equal(serialOf(https), normalSerial(issued(server, "mta-sts.example.org")), "HTTPS: the mta-sts name's own certificate");
    assert.equal(https.subjectaltname, "DNS:mta-sts.example.org");
    // No SNI: the host name's certificate is the default.
    assert.equal(serialOf(await servedCertificate(server.portOf("imaps"), null)), serial);
    // The MTA-STS policy over HTTPS, verified against pebble's root (fetched from its management API).
    const { stdout: root } = await exec("curl", ["-sS", "--cacert", pebble.caFile, `https://127.0.0.1:${pebble.managementPort}/roots/0`]);
    await writeFile(join(pebble.dir, "root.pem"), root);
    const { stdout: policy } = await exec("curl", ["-sS", "--cacert", join(pebble.dir, "root.pem"), "--resolve", `mta-sts.example.org:${pebble.tlsPort}:127.0.0.1`, `https://mta-sts.example.org:${pebble.tlsPort}/.well-known/mta-sts.txt`]);
    assert.match(policy, /^version: STSv1/);

    const stored = join(dataDir, "acme", "certificates", "mx.example.org.key");
    assert.equal((await stat(stored)).mode & 0o777, 0o600);
    await server.server.stop("restart");
    server = null;

    const afterLog = createMemoryLogger();
    server = await startFullServer({ log: afterLog, dataDir, protocols: ["smtp", "imaps", "pop3"], extraToml: acmeToml(pebble, 'challenges = ["http-01"]') });
    // Served from the first connection, before any check ran.
    assert.equal(serialOf(await servedCertificate(server.portOf("imaps"), "mx.example.org")), serial);
    await server.server.acme!.checkNow();
    assert.equal(normalSerial(issued(server, "mx.example.org")), serial);
    assert.ok(!afterLog.records.some((r) => r.event === "acme.ordering"), "nothing ordered after the restart");
  } finally {
    if (server !== null) await server.server.stop("test over");
    await rm(dataDir, { recursive: true, force: true });
    await pebble.stop();
  }
});

test("TLS-ALPN-01, renewal at two thirds of a short lifetime with an open connection kept, revocation, a failed challenge retried", async () => {
  // 30-second certificates: renewal is due 20 seconds after issuance.
  const pebble = await startPebble({ validitySeconds: 30 });
  const log = createMemoryLogger();
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-acme-"));
  let server: FullServer | null = null;
  try {
    server = await startFullServer({
      log,
      dataDir,
      protocols: ["imaps"],
      extraToml: acmeToml(pebble, 'challenges = ["tls-alpn-01"]\ndomain_names = false\nnames = ["missing.example.org"]'),
    });
    await server.server.acme!.checkNow();
    const first = normalSerial(issued(server, "mx.example.org"));
    assert.ok(first, JSON.stringify(server.server.acme!.status()));
    assert.ok(log.records.some((r) => r.event === "acme.alpn_answered" && r["serverName"] === "mx.example.org"), "validated over TLS-ALPN-01");
    assert.ok(!log.records.some((r) => r.event === "acme.http_answered"));

    // The name pebble cannot resolve: the order fails, a retry is scheduled, nothing is stored.
    const missing = server.server.acme!.status().find((s) => s.name === "missing.example.org")!;
    assert.equal(missing.serial, null);
    assert.ok(missing.failures >= 1);
    assert.ok(missing.nextAttempt.getTime() > Date.now(), "retry scheduled");
    assert.ok(log.records.some((r) => r.event === "acme.order_failed" && r["name"] === "missing.example.org"));
    await assert.rejects(readFile(join(dataDir, "acme", "certificates", "missing.example.org.crt")));
    // Retried with backoff: retry_min 2s, then 4s.
    await waitFor("a second failed attempt", () => (server!.server.acme!.status().find((s) => s.name === "missing.example.org")?.failures ?? 0) >= 2, 20_000);

    // An IMAPS session opened on the first certificate.
    const open = connectTls({ host: "127.0.0.1", port: server.portOf("imaps"), servername: "mx.example.org", rejectUnauthorized: false });
    await once(open, "secureConnect");
    assert.equal(serialOf(open.getPeerCertificate()), first);
    let received = "";
    open.on("data", (chunk: Buffer) => (received += chunk.toString()));

    // The next key is made with the certificate (RFC 7671 §8.1, "current + next"), for its TLSA record.
    const nextKeyFile = join(dataDir, "acme", "certificates", "mx.example.org.next.key");
    const nextKeySpki = spkiOfKey(await readFile(nextKeyFile, "utf8"));
    assert.notEqual(nextKeySpki, spkiOfCertificate(await servedCertificate(server.portOf("imaps"), "mx.example.org")));

    // Renewal by schedule, no call from the test: a new certificate, served to new clients.
    await waitFor("the renewal", () => normalSerial(issued(server!, "mx.example.org")) !== first, 40_000);
    const second = normalSerial(issued(server, "mx.example.org"));
    const renewedCertificate = await servedCertificate(server.portOf("imaps"), "mx.example.org");
    assert.equal(serialOf(renewedCertificate), second);
    // The renewal used the published next key, so a TLSA record of it matches from the first handshake; a new next key waits.
    assert.equal(spkiOfCertificate(renewedCertificate), nextKeySpki);
    assert.notEqual(spkiOfKey(await readFile(nextKeyFile, "utf8")), nextKeySpki);
    open.write("a1 NOOP\r\n");
    await waitFor("the NOOP answer on the old connection", () => /a1 OK/.test(received), 5000);
    open.destroy();

    // The operator's view, through the binary talking to the running server.
    const cli = (args: string[]) => runMailroom(args, { env: { MAILROOM_DATA_DIR: dataDir }, timeoutMs: 60_000 });
    await createAdmin(server.server.config, server.server.store).addDomain("example.org");
    const dns = await cli(["dns", "example.org"]);
    assert.equal(dns.code, 0, dns.stderr);
    const tlsa = dns.stdout.split("\n").filter((line) => /^_25\._tcp\.mx\.example\.org\.\s+3600 IN TLSA\s+3 1 1 /.test(line)).map((line) => line.split(/\s+/).pop());
    assert.deepEqual(tlsa, [nextKeySpki, spkiOfKey(await readFile(nextKeyFile, "utf8"))], "the current key's record, then the next key's");
    const status = await cli(["acme", "status"]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`^mx\\.example\\.org: serial 0*${second}, valid until `, "im"));
    assert.match(status.stdout, /^missing\.example\.org: no certificate; \d+ failed attempt\(s\), last: .+; next attempt /m);

    // Revocation: pebble knows it as revoked; a replacement is ordered at once.
    assert.equal(await managementStatus(pebble, second), "Valid");
    const revoked = await cli(["acme", "revoke", "mx.example.org"]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`^revoked serial 0*${second}; mx\\.example\\.org: serial [0-9A-F]+`, "i"));
    assert.equal(await managementStatus(pebble, second), "Revoked");
    const third = normalSerial(issued(server, "mx.example.org"));
    assert.ok(third !== "" && third !== second, "a replacement was issued");
    assert.equal(serialOf(await servedCertificate(server.portOf("imaps"), "mx.example.org")), third);
    const renewed = await cli(["acme", "renew", "mx.example.org"]);
    assert.equal(renewed.code, 0, renewed.stderr);
    assert.notEqual(normalSerial(issued(server, "mx.example.org")), third, "acme renew orders a new certificate at once");
    assert.equal((await cli(["acme", "revoke", "nothing.example.org"])).code, 1);
  } finally {
    if (server !== null) await server.server.stop("test over");
    await rm(dataDir, { recursive: true, force: true });
    await pebble.stop();
  }
});
