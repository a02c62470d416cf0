// Thunderbird's own account setup reading our autoconfig (issue 16): Debian's real `thunderbird`
// runs under xvfb-run with a throwaway profile, and its account-setup discovery
// (FindConfig.parallelAutoDiscovery, what the "Set up your existing email address" page calls,
// then AccountConfig.replaceVariables, what it does before showing the result) is run inside it
// through Marionette, Mozilla's own remote protocol (length-prefixed JSON over TCP), in the chrome
// scope. No network is needed: the profile's proxies stand in for DNS. Thunderbird asks
// https://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=... first; its HTTPS proxy is a
// CONNECT forwarder in this test that opens a tunnel to Mailroom's HTTPS port, where Mailroom
// answers with a certificate for autoconfig.example.org from a test CA the profile trusts (added to
// its certificate database, as a user or an administrator would). Its plain-HTTP proxy is
// Mailroom's HTTP port itself, which accepts the absolute-form requests a proxied client sends
// (RFC 9112 §3.2.2); there the http:// tries and Mozilla's ISP database (pointed at a name we do not
// serve) find their answers. The result (hosts, ports, socket types, user names) must be the
// listeners the server actually runs, found over HTTPS. Skipped, saying so, only where Thunderbird
// or xvfb-run is not installed (CI installs them: .ci/run).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFullServer } from "../harness/full-server.js";
import { createTestCa, issueCert } from "../harness/outbound-tls.js";

function missing(): string | null {
  for (const command of ["thunderbird", "xvfb-run"]) {
    if (spawnSync("sh", ["-c", `command -v ${command}`]).status !== 0) return `${command} is not installed (Debian packages thunderbird, xvfb, xauth)`;
  }
  return null;
}

/** A minimal Marionette client: "<length>:<JSON>" frames; commands [0, id, name, params], replies [1, id, error, result]. */
class Marionette {
  private buffer = Buffer.alloc(0);
  private readonly waiting: ((message: unknown) => void)[] = [];
  private readonly queued: unknown[] = [];
  private serial = 0;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (;;) {
        const colon = this.buffer.indexOf(0x3a);
        if (colon < 0) return;
        const length = Number(this.buffer.subarray(0, colon).toString("ascii"));
        if (this.buffer.length < colon + 1 + length) return;
        const message: unknown = JSON.parse(this.buffer.subarray(colon + 1, colon + 1 + length).toString("utf8"));
        this.buffer = this.buffer.subarray(colon + 1 + length);
        const waiter = this.waiting.shift();
        if (waiter) waiter(message);
        else this.queued.push(message);
      }
    });
  }

  static async open(port: number): Promise<Marionette> {
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const client = new Marionette(socket);
    const hello = (await client.next()) as { marionetteProtocol?: number };
    assert.equal(hello.marionetteProtocol, 3, `Marionette greeting: ${JSON.stringify(hello)}`);
    return client;
  }

  private next(): Promise<unknown> {
    const queued = this.queued.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      this.waiting.push(resolve);
      this.socket.once("close", () => reject(new Error("Marionette closed the connection")));
    });
  }

  async command(name: string, params: Record<string, unknown>): Promise<unknown> {
    const id = ++this.serial;
    const body = JSON.stringify([0, id, name, params]);
    this.socket.write(`${Buffer.byteLength(body)}:${body}`);
    const reply = (await this.next()) as [number, number, { error: string; message: string } | null, unknown];
    assert.equal(reply[1], id);
    if (reply[2] !== null) throw new Error(`${name}: ${reply[2].error}: ${reply[2].message}`);
    return reply[3];
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * An HTTPS proxy for the profile (network.proxy.ssl): answers each CONNECT with a tunnel to
 * Mailroom's HTTPS port (so https://<any name>:443 reaches it, TLS end to end between Thunderbird
 * and Mailroom) and remembers what was asked for.
 */
async function startConnectForwarder(httpsPort: number): Promise<{ server: Server; port: number; asked: string[] }> {
  const asked: string[] = [];
  const server = createServer((client) => {
    let head = Buffer.alloc(0);
    client.on("error", () => client.destroy());
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > 8192) client.destroy();
        return;
      }
      client.off("data", onData);
      const target = /^CONNECT (\S+) HTTP\/1\.[01]\r\n/.exec(head.subarray(0, end).toString("latin1"))?.[1];
      if (target === undefined) {
        client.end("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      asked.push(target);
      const upstream = connect(httpsPort, "127.0.0.1", () => {
        client.write("HTTP/1.1 200 Connection established\r\n\r\n");
        const rest = head.subarray(end + 4);
        if (rest.length > 0) upstream.write(rest);
        client.pipe(upstream).pipe(client);
      });
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
    };
    client.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { server, port: typeof address === "object" && address !== null ? address.port : 0, asked };
}

/** Runs in Thunderbird's chrome scope: the account setup's discovery for an address, as the setup page runs it. */
const DISCOVERY_SCRIPT = `
const [email, caBase64, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
// The test CA, trusted for web sites ("C,,"): as importing it in Settings > Certificates would.
Cc["@mozilla.org/security/x509certdb;1"].getService(Ci.nsIX509CertDB).addCertFromBase64(caBase64, "C,,");
const { FindConfig } = ChromeUtils.importESModule("resource:///modules/accountcreation/FindConfig.sys.mjs");
const { AccountConfig } = ChromeUtils.importESModule("resource:///modules/accountcreation/AccountConfig.sys.mjs");
const { AccountCreationUtils } = ChromeUtils.importESModule("resource:///modules/accountcreation/AccountCreationUtils.sys.mjs");
// Thunderbird's constants by their names (nsMsgSocketType.SSL, .alwaysSTARTTLS; nsMsgAuthMethod.passwordCleartext).
const named = (table, value) => Object.keys(table).find((key) => table[key] === value) ?? value;
const server = (s) => ({ type: s.type, hostname: s.hostname, port: s.port, socketType: named(Ci.nsMsgSocketType, s.socketType), auth: named(Ci.nsMsgAuthMethod, s.auth), username: s.username });
(async () => {
  // Thunderbird 140 takes an abortable first and returns a promise; later releases (153) take
  // (domain, email, AbortSignal) and are an async generator that may pause to ask the user
  // whether credentials may go to a third-party host (answered "no": none are involved here).
  let config;
  if (AccountCreationUtils.SuccessiveAbortable) {
    config = await FindConfig.parallelAutoDiscovery(new AccountCreationUtils.SuccessiveAbortable(), email.split("@")[1], email);
  } else {
    const steps = FindConfig.parallelAutoDiscovery(email.split("@")[1], email, new AbortController().signal);
    let step = await steps.next();
    while (!step.done) step = await steps.next({ acceptRedirect: false });
    config = step.value;
  }
  if (!config) return done({ error: "account setup found no configuration" });
  AccountConfig.replaceVariables(config, "Alice", email, "");
  done({
    source: config.source,
    subSource: config.subSource ?? null,
    incoming: [config.incoming, ...config.incomingAlternatives].map(server),
    outgoing: [config.outgoing, ...config.outgoingAlternatives].map(server),
  });
})().catch((e) => done({ error: String(e) + " " + (e && e.stack) }));
`;

test("Thunderbird's account setup (140 and 153 ESR) finds our servers from our config-v1.1.xml", { skip: missing() ?? false, timeout: 120_000 }, async () => {
  const profile = await mkdtemp(join(tmpdir(), "mailroom-thunderbird-"));
  const ca = await createTestCa();
  const certificate = await issueCert(ca, ["mx.example.org", "autoconfig.example.org", "example.org"], profile);
  const server = await startFullServer({ address: "0.0.0.0", extraToml: `[tls]\ncert_file = ${JSON.stringify(certificate.certFile)}\nkey_file = ${JSON.stringify(certificate.keyFile)}\n` });
  let child: ChildProcess | null = null;
  let marionette: Marionette | null = null;
  let forwarder: Awaited<ReturnType<typeof startConnectForwarder>> | null = null;
  try {
    await server.server.store.accounts.addDomain("example.org");
    const http = server.server.http!.bound.find((b) => b.scheme === "http")!.port;
    forwarder = await startConnectForwarder(server.server.http!.bound.find((b) => b.scheme === "https")!.port);
    const prefs: Record<string, string | number | boolean> = {
      // Marionette on a free port, written to <profile>/MarionetteActivePort.
      "marionette.port": 0,
      // Every request through the proxies: plain HTTP to Mailroom's HTTP port, HTTPS through the
      // CONNECT forwarder to Mailroom's HTTPS port (nothing leaves the machine).
      "network.proxy.type": 1,
      "network.proxy.http": "127.0.0.1",
      "network.proxy.http_port": http,
      "network.proxy.ssl": "127.0.0.1",
      "network.proxy.ssl_port": forwarder.port,
      "network.proxy.no_proxies_on": "",
      "network.proxy.allow_hijacking_localhost": true,
      "network.proxy.share_proxy_settings": false,
      // The other discovery sources stay local and find nothing: Mozilla's ISP database, MX lookups
      // (example.org's real MX is not ours), Exchange Autodiscover.
      "mailnews.auto_config_url": "http://ispdb.invalid/",
      "mailnews.auto_config.fetchFromExchange.enabled": false,
      "mailnews.auto_config.guess.enabled": false,
      "network.dns.disableIPv6": true,
      "network.dns.localDomains": "example.org,autoconfig.example.org,ispdb.invalid",
      // A quiet, quick start: no updates, telemetry, first-run pages, default-client question, add-on checks.
      "app.update.enabled": false,
      "app.update.auto": false,
      "app.update.checkInstallTime": false,
      "datareporting.policy.dataSubmissionEnabled": false,
      "datareporting.healthreport.uploadEnabled": false,
      "toolkit.telemetry.enabled": false,
      "toolkit.telemetry.server": "",
      "mail.shell.checkDefaultClient": false,
      "mail.provider.suppress_dialog_on_startup": true,
      "mail.rights.version": 1,
      "mailnews.start_page.enabled": false,
      "extensions.update.enabled": false,
      "extensions.getAddons.cache.enabled": false,
      "browser.safebrowsing.update.enabled": false,
      "network.captive-portal-service.enabled": false,
      "network.connectivity-service.enabled": false,
      "mail.instrumentation.askUser": false,
      "mail.startup.enabledMailCheckOnce": true,
      "mail.spotlight.firstRunDone": true,
    };
    await writeFile(join(profile, "user.js"), Object.entries(prefs).map(([name, value]) => `user_pref(${JSON.stringify(name)}, ${JSON.stringify(value)});\n`).join(""));
    child = spawn("xvfb-run", ["-a", "thunderbird", "--marionette", "-remote-allow-system-access", "--no-remote", "--profile", profile], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
      env: { ...process.env, MOZ_CRASHREPORTER_DISABLE: "1", MOZ_DISABLE_AUTO_SAFE_MODE: "1" },
    });
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    child.stderr!.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    const portFile = join(profile, "MarionetteActivePort");
    const deadline = Date.now() + 60_000;
    while (!existsSync(portFile) || (await readFile(portFile, "utf8")).trim() === "") {
      if (Date.now() > deadline || child.exitCode !== null) assert.fail(`Thunderbird did not start Marionette: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    marionette = await Marionette.open(Number((await readFile(portFile, "utf8")).trim()));
    await marionette.command("WebDriver:NewSession", { capabilities: { alwaysMatch: {} } });
    await marionette.command("Marionette:SetContext", { value: "chrome" });
    const found = (await marionette.command("WebDriver:ExecuteAsyncScript", { script: DISCOVERY_SCRIPT, args: ["alice@example.org", ca.cert.replace(/-----[A-Z ]+-----|\s/g, "")], scriptTimeout: 60_000 })) as { value: Record<string, unknown> };
    const result = found.value as { error?: string; source: string; subSource: string; incoming: Record<string, unknown>[]; outgoing: Record<string, unknown>[] };
    assert.equal(result.error, undefined, result.error);
    // Found in the ISP's own file over HTTPS (Thunderbird's first choice), not guessed, not Mozilla's database.
    assert.deepEqual([result.source, result.subSource], ["xml", "xml-from-isp-https"]);
    assert.ok(forwarder.asked.includes("autoconfig.example.org:443"), `CONNECTs: ${forwarder.asked.join(", ")}`);

    // What the setup page offers: the first of each kind with the user name filled in (the whole
    // address: accounts log in by address); the alternatives hold the template in Thunderbird 140
    // and the filled-in address in 153, both of which come from our %EMAILADDRESS% username.
    const expected = (type: string, protocol: string, socketType: string) => ({ type, hostname: "mx.example.org", port: server.portOf(protocol as never), socketType, auth: "passwordCleartext", username: address });
    const address = "alice@example.org";
    const template = "%EMAILADDRESS%";
    assert.equal(result.incoming[0]?.username, address);
    assert.equal(result.outgoing[0]?.username, address);
    const filled = (list: typeof result.incoming) => list.map((s) => ({ ...s, username: s.username === template ? address : s.username }));
    assert.deepEqual(filled(result.incoming), [
      expected("imap", "imaps", "SSL"),
      expected("imap", "imap", "alwaysSTARTTLS"),
      expected("pop3", "pop3s", "SSL"),
      expected("pop3", "pop3", "alwaysSTARTTLS"),
    ]);
    assert.deepEqual(filled(result.outgoing), [expected("smtp", "submissions", "SSL"), expected("smtp", "submission", "alwaysSTARTTLS")]);
  } finally {
    marionette?.close();
    if (child?.pid !== undefined && child.exitCode === null) {
      // xvfb-run, its Xvfb and Thunderbird are one process group (detached above).
      const exited = new Promise((resolve) => child!.once("exit", resolve));
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
      clearTimeout(timer);
    }
    forwarder?.server.close();
    await server.stop();
    await rm(profile, { recursive: true, force: true });
  }
});
