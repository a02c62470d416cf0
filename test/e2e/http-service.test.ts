// The HTTP(S) service of a whole composed server, over real sockets, with the requests the apps
// send: Thunderbird's autoconfig GETs, Outlook's Autodiscover POX POST (both casings) and v2 JSON
// GET, an Apple .mobileconfig download, the MTA-STS fetch over HTTPS with SNI, probes and metrics
// (curl and node fetch). Then hostile input: oversized body and headers, a slow client, path traversal.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { connect } from "node:net";
import { promisify } from "node:util";
import { startFullServer, type FullServer } from "../harness/full-server.js";

const run = promisify(execFile);

async function curl(args: string[]): Promise<{ status: number; body: string; headers: string }> {
  const { stdout } = await run("curl", ["-sS", "-D", "-", "--max-time", "10", ...args], { maxBuffer: 4 << 20 });
  const split = stdout.indexOf("\r\n\r\n");
  const headers = stdout.slice(0, split);
  return { status: Number(/^HTTP\/[\d.]+ (\d{3})/.exec(headers)?.[1] ?? 0), headers, body: stdout.slice(split + 4) };
}

function ports(server: FullServer): { http: number; https: number } {
  const http = server.server.http!.bound.find((b) => b.scheme === "http")!.port;
  const https = server.server.http!.bound.find((b) => b.scheme === "https")!.port;
  return { http, https };
}

async function withServer(extraToml: string, body: (server: FullServer, p: { http: number; https: number }) => Promise<void>): Promise<void> {
  // Mail listeners on every IPv4 address (random ports): loopback-only listeners are not offered to apps.
  const server = await startFullServer({ address: "0.0.0.0", extraToml: `[http]\nhttp_port = 0\nhttps_port = 0\naddress = "127.0.0.1"\nheaders_timeout = "1s"\nrequest_timeout = "2s"\n${extraToml}` });
  try {
    await server.server.store.accounts.addDomain("example.org");
    await body(server, ports(server));
  } finally {
    await server.stop();
  }
}

test("Thunderbird autoconfig: both URLs, the enabled listeners with their real ports, implicit TLS first, the address as user name", async () => {
  await withServer("", async (server, p) => {
    const ua = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.0";
    const a = await curl(["-A", ua, "-H", "Host: autoconfig.example.org", `http://127.0.0.1:${p.http}/mail/config-v1.1.xml?emailaddress=alice%40example.org`]);
    assert.equal(a.status, 200, a.body);
    assert.match(a.headers, /content-type: application\/xml/i);
    const b = await curl(["-A", ua, "-H", "Host: example.org", `http://127.0.0.1:${p.http}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice%40example.org`]);
    assert.equal(b.body, a.body);
    const incoming = [...a.body.matchAll(/<incomingServer type="(\w+)">\s*<hostname>([^<]+)<\/hostname>\s*<port>(\d+)<\/port>\s*<socketType>(\w+)<\/socketType>/g)].map((m) => `${m[1]} ${m[2]} ${m[3]} ${m[4]}`);
    assert.deepEqual(incoming, [
      `imap mx.example.org ${server.portOf("imaps")} SSL`,
      `imap mx.example.org ${server.portOf("imap")} STARTTLS`,
      `pop3 mx.example.org ${server.portOf("pop3s")} SSL`,
      `pop3 mx.example.org ${server.portOf("pop3")} STARTTLS`,
    ]);
    const outgoing = [...a.body.matchAll(/<outgoingServer type="smtp">\s*<hostname>[^<]+<\/hostname>\s*<port>(\d+)<\/port>\s*<socketType>(\w+)<\/socketType>/g)].map((m) => `${m[1]} ${m[2]}`);
    assert.deepEqual(outgoing, [`${server.portOf("submissions")} SSL`, `${server.portOf("submission")} STARTTLS`]);
    assert.ok(!a.body.includes(String(server.portOf("smtp"))), "port 25 is not offered to apps");
    assert.equal([...a.body.matchAll(/<username>%EMAILADDRESS%<\/username>/g)].length, 6);
    // node fetch, Host from the URL: the domain comes from emailaddress.
    const viaFetch = await fetch(`http://127.0.0.1:${p.http}/mail/config-v1.1.xml?emailaddress=bob@example.org`);
    assert.equal(viaFetch.status, 200);
    assert.equal(await viaFetch.text(), a.body);
    assert.equal((await curl([`http://127.0.0.1:${p.http}/mail/config-v1.1.xml?emailaddress=alice%40elsewhere.test`])).status, 404);
    assert.equal((await curl([`http://127.0.0.1:${p.http}/mail/config-v1.1.xml?emailaddress=%3Cscript%3E`])).status, 400);
    // Through an HTTP proxy (curl -x): the absolute-form request (RFC 9112 §3.2.2), its host naming the domain.
    const proxied = await curl(["-x", `http://127.0.0.1:${p.http}`, "http://autoconfig.example.org/mail/config-v1.1.xml"]);
    assert.equal(proxied.status, 200, proxied.body);
    assert.equal(proxied.body, a.body);
    assert.equal((await curl(["-x", `http://127.0.0.1:${p.http}`, "http://autoconfig.elsewhere.test/mail/config-v1.1.xml"])).status, 404);
  });
});

const OUTLOOK_POX = (address: string) =>
  `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>${address}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`;

test("Outlook Autodiscover: the POX POST in either casing, the v2 JSON redirect, errors for others", async () => {
  await withServer("", async (server, p) => {
    for (const path of ["/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"]) {
      const r = await curl(["-X", "POST", "-H", "Content-Type: text/xml", "-A", "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.4266; Pro)", "--data-binary", OUTLOOK_POX("alice@example.org"), `http://127.0.0.1:${p.http}${path}`]);
      assert.equal(r.status, 200, `${path}: ${r.body}`);
      const protocols = [...r.body.matchAll(/<Type>(\w+)<\/Type>\s*<Server>([^<]+)<\/Server>\s*<Port>(\d+)<\/Port>[\s\S]*?<LoginName>([^<]+)<\/LoginName>[\s\S]*?<Encryption>(\w+)<\/Encryption>/g)].map((m) => m.slice(1).join(" "));
      assert.deepEqual(protocols, [
        `IMAP mx.example.org ${server.portOf("imaps")} alice@example.org SSL`,
        `POP3 mx.example.org ${server.portOf("pop3s")} alice@example.org SSL`,
        `SMTP mx.example.org ${server.portOf("submissions")} alice@example.org SSL`,
      ]);
      assert.match(r.body, /responseschema\/2006a/);
    }
    const unknown = await curl(["-X", "POST", "-H", "Content-Type: text/xml", "--data-binary", OUTLOOK_POX("x@nowhere.test"), `http://127.0.0.1:${p.http}/autodiscover/autodiscover.xml`]);
    assert.equal(unknown.status, 404);
    const garbage = await curl(["-X", "POST", "-H", "Content-Type: text/xml", "--data-binary", "<Autodiscover><Request/></Autodiscover>", `http://127.0.0.1:${p.http}/autodiscover/autodiscover.xml`]);
    assert.equal(garbage.status, 400);
    assert.match(garbage.body, /<ErrorCode>600<\/ErrorCode>/);
    const xxe = await curl(["-X", "POST", "-H", "Content-Type: text/xml", "--data-binary", `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${OUTLOOK_POX("&e;")}`, `http://127.0.0.1:${p.http}/autodiscover/autodiscover.xml`]);
    assert.equal(xxe.status, 400);
    assert.ok(!xxe.body.includes("root:"));

    const v2 = await fetch(`http://127.0.0.1:${p.http}/autodiscover/autodiscover.json/v1.0/alice@example.org?Protocol=AutodiscoverV1`);
    assert.equal(v2.status, 200);
    assert.deepEqual(await v2.json(), { Protocol: "AutodiscoverV1", Url: "https://autodiscover.example.org/autodiscover/autodiscover.xml" });
    const activeSync = await fetch(`http://127.0.0.1:${p.http}/autodiscover/autodiscover.json/v1.0/alice@example.org?Protocol=ActiveSync`);
    assert.equal(activeSync.status, 400);
    assert.equal(((await activeSync.json()) as { ErrorCode: string }).ErrorCode, "InvalidProtocol");
  });
});

test("Apple .mobileconfig: a page, a profile with IMAP and SMTP payloads on the real ports, unsigned with a self-signed certificate", async () => {
  await withServer("", async (server, p) => {
    const page = await fetch(`http://127.0.0.1:${p.http}/apple`);
    assert.match(await page.text(), /action="\/apple\/mobileconfig"/);
    // Over HTTPS (the self-signed certificate, so -k): the same profile, unsigned.
    const overHttps = await curl(["-k", "--resolve", `autoconfig.example.org:${p.https}:127.0.0.1`, `https://autoconfig.example.org:${p.https}/apple/mobileconfig?emailaddress=alice%40example.org`]);
    assert.equal(overHttps.status, 200);
    assert.match(overHttps.body, /^<\?xml/);
    const profile = await fetch(`http://127.0.0.1:${p.http}/apple/mobileconfig?emailaddress=alice%40example.org`);
    assert.equal(profile.status, 200);
    assert.equal(profile.headers.get("content-type"), "application/x-apple-aspen-config");
    const text = await profile.text();
    assert.match(text, /<key>PayloadType<\/key>\s*<string>com\.apple\.mail\.managed<\/string>/);
    assert.match(text, new RegExp(`<key>IncomingMailServerPortNumber</key>\\s*<integer>${server.portOf("imaps")}</integer>`));
    assert.match(text, new RegExp(`<key>OutgoingMailServerPortNumber</key>\\s*<integer>${server.portOf("submissions")}</integer>`));
    assert.match(text, /<key>IncomingMailServerUsername<\/key>\s*<string>alice@example\.org<\/string>/);
    // plutil is not on Linux; python's plistlib is a strict reader of the format.
    const parsed = await run("python3", ["-c", `import plistlib,urllib.request; d=plistlib.loads(urllib.request.urlopen("http://127.0.0.1:${p.http}/apple/mobileconfig?emailaddress=alice%40example.org").read()); print(d["PayloadType"], d["PayloadContent"][0]["EmailAccountType"], d["PayloadContent"][0]["IncomingMailServerUseSSL"])`]);
    assert.equal(parsed.stdout.trim(), "Configuration EmailTypeIMAP True");
  });
});

test("MTA-STS policy over HTTPS with SNI mta-sts.<domain>; not over HTTP, not for other hosts", async () => {
  await withServer('mta_sts_mode = "enforce"\nmta_sts_max_age = 86400\n', async (_server, p) => {
    const r = await curl(["-k", "--resolve", `mta-sts.example.org:${p.https}:127.0.0.1`, `https://mta-sts.example.org:${p.https}/.well-known/mta-sts.txt`]);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, "version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmax_age: 86400\r\n");
    assert.match(r.headers, /content-type: text\/plain/i);
    const overHttp = await curl(["-H", "Host: mta-sts.example.org", `http://127.0.0.1:${p.http}/.well-known/mta-sts.txt`]);
    assert.equal(overHttp.status, 404);
    const other = await curl(["-k", "--resolve", `mta-sts.nowhere.test:${p.https}:127.0.0.1`, `https://mta-sts.nowhere.test:${p.https}/.well-known/mta-sts.txt`]);
    assert.equal(other.status, 404);
  });
});

test("/healthz, /readyz, and /metrics (loopback by default, a bearer token when configured) counting real connections", async () => {
  await withServer("", async (server, p) => {
    assert.equal((await curl([`http://127.0.0.1:${p.http}/healthz`])).body, "ok\n");
    const ready = await curl([`http://127.0.0.1:${p.http}/readyz`]);
    assert.equal(ready.status, 200);
    assert.match(ready.body, /store: ok\nlisteners: ok \(7 bound\)/);
    // One IMAP connection, then the counter shows it.
    await new Promise<void>((resolve, reject) => {
      const socket = connect(server.portOf("imap"), "127.0.0.1", () => socket.once("data", () => socket.end(() => resolve())));
      socket.on("error", reject);
    });
    const metrics = await curl([`http://127.0.0.1:${p.http}/metrics`]);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, new RegExp(`mailroom_connections_total\\{protocol="imap",listener="${server.portOf("imap")}"\\} 1`));
    assert.match(metrics.body, /^process_resident_memory_bytes \d+/m);
    assert.match(metrics.body, /^nodejs_eventloop_lag_seconds /m);
    assert.match(metrics.body, /^mailroom_queue_length 0$/m);
  });
  await withServer('metrics_token = "s3cret-token"\n', async (_server, p) => {
    assert.equal((await curl([`http://127.0.0.1:${p.http}/metrics`])).status, 401);
    assert.equal((await curl(["-H", "Authorization: Bearer wrong", `http://127.0.0.1:${p.http}/metrics`])).status, 401);
    assert.equal((await curl(["-H", "Authorization: Bearer s3cret-token", `http://127.0.0.1:${p.http}/metrics`])).status, 200);
  });
});

test("behind a reverse proxy: X-Forwarded-For counts only from trusted_proxies (metrics' loopback rule)", async () => {
  await withServer("", async (_server, p) => {
    // Not trusted: the header is ignored and the loopback peer reads metrics.
    assert.equal((await curl(["-H", "X-Forwarded-For: 203.0.113.9", `http://127.0.0.1:${p.http}/metrics`])).status, 200);
  });
  await withServer('trusted_proxies = ["127.0.0.1/32"]\n', async (_server, p) => {
    // The proxy on loopback says the client is remote: metrics refuse it; HTTPS per X-Forwarded-Proto serves MTA-STS.
    assert.equal((await curl(["-H", "X-Forwarded-For: 203.0.113.9", `http://127.0.0.1:${p.http}/metrics`])).status, 403);
    const sts = await curl(["-H", "Host: mta-sts.example.org", "-H", "X-Forwarded-Proto: https", `http://127.0.0.1:${p.http}/.well-known/mta-sts.txt`]);
    assert.equal(sts.status, 200);
  });
});

test("hostile input: oversized body 413, oversized headers 431, a slow client cut with 408, path traversal 404; the server keeps serving", async () => {
  await withServer('body_limit = "2K"\nmax_header_size = "2K"\n', async (_server, p) => {
    const big = await curl(["-X", "POST", "-H", "Content-Type: text/xml", "--data-binary", OUTLOOK_POX("a@example.org") + "x".repeat(4096), `http://127.0.0.1:${p.http}/autodiscover/autodiscover.xml`]);
    assert.equal(big.status, 413);
    const headers = await curl(["-H", `X-Big: ${"y".repeat(4096)}`, `http://127.0.0.1:${p.http}/healthz`]).catch((e: { stdout?: string }) => ({ status: Number(/HTTP\/1.1 (\d+)/.exec(e.stdout ?? "")?.[1] ?? 0), body: "", headers: "" }));
    assert.equal(headers.status, 431);
    for (const path of ["/mail/../../../etc/passwd", "/.well-known/autoconfig/mail/%2e%2e/%2e%2e/etc/passwd", "/apple/..%2f..%2fetc%2fpasswd"]) {
      const r = await curl(["--path-as-is", `http://127.0.0.1:${p.http}${path}`]);
      assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
      assert.ok(!r.body.includes("root:"));
    }
    // A client that sends half a request line and stops: cut after headers_timeout (1s), with 408.
    const started = Date.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(p.http, "127.0.0.1", () => socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
      let data = "";
      socket.on("data", (chunk: Buffer) => (data += chunk.toString()));
      socket.on("close", () => resolve(data));
      socket.on("error", reject);
      setTimeout(() => socket.destroy(), 8000);
    });
    assert.match(answer, /^HTTP\/1\.1 408/);
    assert.ok(Date.now() - started < 5000, `cut after ${Date.now() - started} ms`);
    assert.equal((await curl([`http://127.0.0.1:${p.http}/healthz`])).status, 200);
  });
});

test("an HTTP port already taken is reported and skipped; the mail listeners keep running", async () => {
  const blocker = (await import("node:net")).createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  const taken = (blocker.address() as { port: number }).port;
  const { createMemoryLogger } = await import("../../src/observability/log.js");
  const log = createMemoryLogger();
  const server = await startFullServer({ log, extraToml: `[http]\nhttp_port = ${taken}\nhttps_port = 0\naddress = "127.0.0.1"\n` });
  try {
    assert.deepEqual(server.server.http!.bound.map((b) => b.scheme), ["https"]);
    const warning = log.records.find((r) => r.event === "http.port_unavailable");
    assert.ok(warning, "a warning names the port");
    assert.match(String(warning["reason"]), new RegExp(`port ${taken} is already in use .*http_port.*trusted_proxies`));
    const greeting = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.portOf("imap"), "127.0.0.1");
      socket.once("data", (d: Buffer) => {
        socket.destroy();
        resolve(d.toString());
      });
      socket.on("error", reject);
    });
    assert.match(greeting, /^\* OK/);
  } finally {
    await server.stop();
    blocker.close();
  }
});
