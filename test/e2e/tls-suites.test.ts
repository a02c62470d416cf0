// The cipher suites each listener really negotiates, scanned the way sslscan does: one TLS 1.2
// handshake per suite the client library knows (and one per TLS 1.3 suite), through the
// listener's own way into TLS (implicit, STARTTLS, STLS), on the whole composed server.
// Mail apps' listeners follow Mozilla's "intermediate" profile: no static-RSA key exchange, no
// CBC; port 25 stays broad for old MTAs. ECDHE-ECDSA and ECDHE-RSA both work (two certificates).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, test } from "node:test";
import { getCiphers } from "node:tls";
import type { ListenerProtocol } from "../../src/config/index.js";
import { openTls, startFullServer, type FullServer } from "../harness/full-server.js";

const CLIENT_LISTENERS: ListenerProtocol[] = ["submission", "submissions", "imap", "imaps", "pop3", "pop3s"];

/** TLS 1.2 suites with certificate authentication (PSK and SRP need secrets a scan does not have). */
const TLS12_SUITES = getCiphers()
  .filter((name) => !name.startsWith("tls_") && !/psk|srp/.test(name))
  .map((name) => name.toUpperCase());
const TLS13_SUITES = getCiphers()
  .filter((name) => name.startsWith("tls_"))
  .map((name) => name.toUpperCase());

const INTERMEDIATE_TLS12 = [
  "DHE-RSA-AES128-GCM-SHA256",
  "DHE-RSA-AES256-GCM-SHA384",
  "DHE-RSA-CHACHA20-POLY1305",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-RSA-CHACHA20-POLY1305",
];

let full: FullServer;
before(async () => {
  full = await startFullServer();
});
after(async () => {
  await full.stop();
});

/** The suites of `candidates` a handshake succeeds with, one at a time (a few at once). */
async function negotiable(protocol: ListenerProtocol, candidates: string[], version: "TLSv1.2" | "TLSv1.3"): Promise<string[]> {
  const accepted: string[] = [];
  const queue = [...candidates];
  const worker = async () => {
    for (let suite = queue.shift(); suite !== undefined; suite = queue.shift()) {
      // TLS 1.3 suites are chosen with their own option; `ciphers` then must still allow something for 1.2.
      const options = version === "TLSv1.2" ? { ciphers: suite, minVersion: version, maxVersion: version } : { ciphers: `${suite}:HIGH`, minVersion: version, maxVersion: version };
      try {
        const socket = await openTls(protocol, "127.0.0.1", full.portOf(protocol), options);
        const cipher = socket.getCipher();
        socket.destroy();
        if (version === "TLSv1.3") assert.equal(cipher.standardName, suite, "the one TLS 1.3 suite offered was chosen");
        else assert.equal(cipher.name, suite);
        accepted.push(suite);
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return accepted.sort();
}

for (const protocol of CLIENT_LISTENERS) {
  test(`${protocol}: Mozilla intermediate only: ECDHE/DHE with AEAD on TLS 1.2, and TLS 1.3`, async () => {
    const tls12 = await negotiable(protocol, TLS12_SUITES, "TLSv1.2");
    assert.deepEqual(tls12, INTERMEDIATE_TLS12);
    assert.ok(!tls12.some((suite) => !/^(ECDHE|DHE)-/.test(suite)), "no static-RSA key exchange (kRSA)");
    assert.ok(!tls12.some((suite) => /-SHA$/.test(suite)), "no CBC-SHA1 suites");
    const tls13 = await negotiable(protocol, TLS13_SUITES, "TLSv1.3");
    assert.deepEqual(tls13, ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]);
  });
}

test("smtp (port 25): broad for old MTAs, strongest first; ECDHE-ECDSA and ECDHE-RSA both negotiable", async () => {
  const tls12 = await negotiable("smtp", TLS12_SUITES, "TLSv1.2");
  for (const suite of [...INTERMEDIATE_TLS12, "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "AES128-SHA", "AES256-GCM-SHA384"]) {
    assert.ok(tls12.includes(suite), `${suite} is negotiable on port 25`);
  }
  // With every suite on offer, the server's own order picks a forward-secret AEAD one.
  const socket = await openTls("smtp", "127.0.0.1", full.portOf("smtp"), { maxVersion: "TLSv1.2", ciphers: "AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384" });
  assert.equal(socket.getCipher().name, "ECDHE-RSA-AES256-GCM-SHA384");
  socket.destroy();
});

/** `openssl s_client` as a second, independent client: does a TLS 1.2 handshake with one suite succeed? */
function opensslAccepts(args: string[]): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = execFile("openssl", ["s_client", "-tls1_2", ...args], { timeout: 20_000 }, (error, stdout) => {
      if (error && (error as NodeJS.ErrnoException).code === "ENOENT") reject(new Error("openssl is not installed (CI installs it: .ci/run)"));
      else resolve(/^\s*Cipher\s*:\s*(?!0000)\S+/m.test(stdout) && !/Cipher is \(NONE\)/.test(stdout));
    });
    child.stdin?.end();
  });
}

test("openssl s_client agrees: AES128-SHA is refused on submission, IMAP and POP3, accepted on port 25", async () => {
  const port = (protocol: ListenerProtocol) => `127.0.0.1:${full.portOf(protocol)}`;
  assert.equal(await opensslAccepts(["-connect", port("smtp"), "-starttls", "smtp", "-cipher", "AES128-SHA"]), true);
  assert.equal(await opensslAccepts(["-connect", port("submission"), "-starttls", "smtp", "-cipher", "AES128-SHA"]), false);
  assert.equal(await opensslAccepts(["-connect", port("imaps"), "-cipher", "AES128-SHA"]), false);
  assert.equal(await opensslAccepts(["-connect", port("pop3"), "-starttls", "pop3", "-cipher", "ECDHE-RSA-AES128-SHA"]), false);
  assert.equal(await opensslAccepts(["-connect", port("imap"), "-starttls", "imap", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"]), true);
});
