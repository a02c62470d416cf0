import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { get as httpGet } from "node:http";
import { get as httpsGet } from "node:https";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { test } from "node:test";
import { parseConfigText } from "../config/index.js";
import { ALPN_SHARED_LOOKUPS_PER_MINUTE, AcmeChallenges } from "../net/index.js";
import { silentLogger } from "../observability/log.js";
import type { HttpContext } from "./context.js";
import { startHttpService, type HttpService } from "./http-service.js";

// The connection front (http-service.ts installConnectionFront) holds a socket before the server's
// own handling has it: a client resetting then must not raise an unhandled 'error' (which would end
// the process, failing this test), and the next client is still served.

function context(acmeChallenges: AcmeChallenges | undefined, scheme: "http" | "https"): HttpContext {
  const settings = { ...parseConfigText("").http, address: "127.0.0.1", httpPort: scheme === "http" ? 0 : null, httpsPort: scheme === "https" ? 0 : null, headersTimeout: 1500 };
  return { hostname: "mx.example.org", settings, servers: () => [], isLocalDomain: async () => false, readiness: async () => [], metrics: null, ...(acmeChallenges === undefined ? {} : { acmeChallenges }), log: silentLogger };
}

function portOf(service: HttpService): number {
  return service.bound[0]!.port;
}

/** Connects, writes `bytes`, then sends a TCP reset. */
async function resetAfter(port: number, bytes: Buffer): Promise<void> {
  const client = connect(port, "127.0.0.1");
  client.on("error", () => {});
  await once(client, "connect");
  if (bytes.length > 0) client.write(bytes);
  await new Promise((resolve) => setTimeout(resolve, 150));
  client.resetAndDestroy();
  await new Promise((resolve) => setTimeout(resolve, 300));
}

async function fetchStatus(scheme: "http" | "https", port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const get = scheme === "http" ? httpGet : httpsGet;
    const request = get({ host: "127.0.0.1", port, path: "/healthz", rejectUnauthorized: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on("error", reject);
  });
}

async function selfSigned(): Promise<{ key: string; cert: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "front-"));
  await promisify(execFile)("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost", "-days", "1", "-keyout", join(dir, "k.pem"), "-out", join(dir, "c.pem")]);
  return { key: await readFile(join(dir, "k.pem"), "utf8"), cert: await readFile(join(dir, "c.pem"), "utf8"), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const PARTIAL_CLIENT_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]);

test("HTTPS with a shared ACME store: a reset mid-ClientHello is absorbed, a silent client is dropped, the next client is served", async () => {
  const tls = await selfSigned();
  let lookups = 0;
  const challenges = new AcmeChallenges({ readAcmeHttpChallenge: async () => null, readAcmeAlpnChallenge: async () => (lookups++, null) });
  assert.equal(challenges.mayAnswerAlpn, true);
  const service = await startHttpService({
    context: context(challenges, "https"),
    sniCallback: (_name, callback) => callback(null),
    defaultTls: { options: () => ({ key: tls.key, cert: tls.cert }), onChange: () => () => {} },
  });
  try {
    const port = portOf(service);
    await resetAfter(port, PARTIAL_CLIENT_HELLO);
    await resetAfter(port, Buffer.alloc(0));
    assert.equal(await fetchStatus("https", port), 200);
    // A client that sends nothing is let go after the peek time (here http.headers_timeout, 1.5 s).
    const silent: Socket = connect(port, "127.0.0.1");
    silent.on("error", () => {});
    const started = Date.now();
    await once(silent, "close");
    assert.ok(Date.now() - started < 10_000, "the silent client is dropped");
    assert.equal(lookups, 0, "an ordinary ClientHello makes no store query");
    assert.equal(await fetchStatus("https", port), 200);
  } finally {
    await service.close();
    await tls.cleanup();
  }
});

test("PROXY protocol front: a reset before the first bytes (untrusted peer) or mid-header (trusted balancer) is absorbed", async () => {
  for (const trusted of [["192.0.2.1"], ["127.0.0.1"]]) {
    const service = await startHttpService({ context: context(undefined, "http"), sniCallback: (_name, callback) => callback(null), proxyProtocol: { trusted, timeoutMs: 2000 } });
    try {
      const port = portOf(service);
      await resetAfter(port, Buffer.alloc(0));
      await resetAfter(port, Buffer.from("PROXY TCP4 203.0.113.9 "));
      if (trusted[0] === "192.0.2.1") assert.equal(await fetchStatus("http", port), 200);
    } finally {
      await service.close();
    }
  }
});

test("TLS-ALPN-01 shared-store lookups are limited per client address", async () => {
  let lookups = 0;
  const challenges = new AcmeChallenges({ readAcmeHttpChallenge: async () => null, readAcmeAlpnChallenge: async () => (lookups++, null) });
  for (let i = 0; i < ALPN_SHARED_LOOKUPS_PER_MINUTE + 10; i++) assert.equal(await challenges.alpnContextAnywhere("mx.example.org", "198.51.100.7"), undefined);
  assert.equal(lookups, ALPN_SHARED_LOOKUPS_PER_MINUTE);
  await challenges.alpnContextAnywhere("mx.example.org", "198.51.100.8");
  assert.equal(lookups, ALPN_SHARED_LOOKUPS_PER_MINUTE + 1, "another address is not held back");
});
