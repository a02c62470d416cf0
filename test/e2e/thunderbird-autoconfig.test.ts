// Thunderbird's own account setup reading our autoconfig (issue 16): Debian's real `thunderbird`
// runs under xvfb-run with a throwaway profile, and its account-setup discovery
// (FindConfig.parallelAutoDiscovery, what the "Set up your existing email address" page calls,
// then AccountConfig.replaceVariables, what it does before showing the result) is run inside it
// through Marionette, Mozilla's own remote protocol (length-prefixed JSON over TCP), in the chrome
// scope. No network is needed: the profile's HTTP proxy is Mailroom's HTTP port, which accepts the
// absolute-form requests a proxied client sends (RFC 9112 §3.2.2), so Thunderbird's
// http://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=... reaches Mailroom; the HTTPS
// tries go to the same port as CONNECT, which it refuses, so Thunderbird falls back to plain HTTP
// as it does against a server without a certificate. The result (hosts, ports, socket types, user
// names) must be the listeners the server actually runs. Skipped, saying so, only where Thunderbird
// or xvfb-run is not installed (CI installs them: .ci/run).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFullServer } from "../harness/full-server.js";

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

/** Runs in Thunderbird's chrome scope: the account setup's discovery for an address, as the setup page runs it. */
const DISCOVERY_SCRIPT = `
const [email, done] = [arguments[0], arguments[arguments.length - 1]];
const { FindConfig } = ChromeUtils.importESModule("resource:///modules/accountcreation/FindConfig.sys.mjs");
const { AccountConfig } = ChromeUtils.importESModule("resource:///modules/accountcreation/AccountConfig.sys.mjs");
const { AccountCreationUtils } = ChromeUtils.importESModule("resource:///modules/accountcreation/AccountCreationUtils.sys.mjs");
// Thunderbird's constants by their names (nsMsgSocketType.SSL, .alwaysSTARTTLS; nsMsgAuthMethod.passwordCleartext).
const named = (table, value) => Object.keys(table).find((key) => table[key] === value) ?? value;
const server = (s) => ({ type: s.type, hostname: s.hostname, port: s.port, socketType: named(Ci.nsMsgSocketType, s.socketType), auth: named(Ci.nsMsgAuthMethod, s.auth), username: s.username });
(async () => {
  const config = await FindConfig.parallelAutoDiscovery(new AccountCreationUtils.SuccessiveAbortable(), email.split("@")[1], email);
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

test("Thunderbird 140's account setup finds our servers from our config-v1.1.xml", { skip: missing() ?? false, timeout: 120_000 }, async () => {
  const server = await startFullServer({ address: "0.0.0.0" });
  const profile = await mkdtemp(join(tmpdir(), "mailroom-thunderbird-"));
  let child: ChildProcess | null = null;
  let marionette: Marionette | null = null;
  try {
    await server.server.store.accounts.addDomain("example.org");
    const http = server.server.http!.bound.find((b) => b.scheme === "http")!.port;
    const prefs: Record<string, string | number | boolean> = {
      // Marionette on a free port, written to <profile>/MarionetteActivePort.
      "marionette.port": 0,
      // Every request through the proxy, which is Mailroom's HTTP port (nothing leaves the machine).
      "network.proxy.type": 1,
      "network.proxy.http": "127.0.0.1",
      "network.proxy.http_port": http,
      "network.proxy.ssl": "127.0.0.1",
      "network.proxy.ssl_port": http,
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
    const found = (await marionette.command("WebDriver:ExecuteAsyncScript", { script: DISCOVERY_SCRIPT, args: ["alice@example.org"], scriptTimeout: 60_000 })) as { value: Record<string, unknown> };
    const result = found.value as { error?: string; source: string; subSource: string; incoming: Record<string, unknown>[]; outgoing: Record<string, unknown>[] };
    assert.equal(result.error, undefined, result.error);
    // Found in the ISP's own file over HTTP (the HTTPS tries were refused), not guessed, not Mozilla's database.
    assert.deepEqual([result.source, result.subSource], ["xml", "xml-from-isp-http"]);

    // What the setup page offers: the first of each kind with the user name filled in (the whole
    // address: accounts log in by address), the others as alternatives still holding the template.
    const expected = (type: string, protocol: string, socketType: string, username: string) => ({ type, hostname: "mx.example.org", port: server.portOf(protocol as never), socketType, auth: "passwordCleartext", username });
    const address = "alice@example.org";
    const template = "%EMAILADDRESS%";
    assert.deepEqual(result.incoming, [
      expected("imap", "imaps", "SSL", address),
      expected("imap", "imap", "alwaysSTARTTLS", template),
      expected("pop3", "pop3s", "SSL", template),
      expected("pop3", "pop3", "alwaysSTARTTLS", template),
    ]);
    assert.deepEqual(result.outgoing, [expected("smtp", "submissions", "SSL", address), expected("smtp", "submission", "alwaysSTARTTLS", template)]);
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
    await server.stop();
    await rm(profile, { recursive: true, force: true });
  }
});
