// Two Mailroom instances on loopback for outbound tests: A (a.test: alice, submission + MX +
// outbound worker) and B (b.test: bob, MX with SPF/DKIM/DMARC verification). Both ask one DNS
// server on loopback (test/harness/dns-server.ts), named by their configuration's
// outbound.dns_servers: A's workers are built by createOutbound() from a parsed [outbound]
// section, B's inbound checks by createInboundResolver() from the same key. The server holds MX,
// A, SPF, DMARC and A's DKIM keys. B's MX is reached through a "front" on loopback the test can
// switch: pass through, answer 4xx, or be down.
import { createServer, connect, type Server, type Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { once } from "node:events";
import { join } from "node:path";
import { Authenticator, AuthThrottle } from "../../src/auth/index.js";
import { parseConfigText, type Config } from "../../src/config/index.js";
import { dkimTxtRecord, generateDkimKeys, type DnsResolver, type DnsTable } from "../../src/mail-auth/index.js";
import { Connection, TlsContextProvider } from "../../src/net/index.js";
import { silentLogger, type Logger } from "../../src/observability/log.js";
import type { AttemptReport, OutboundWorker, RetryPolicy } from "../../src/queue/index.js";
import { createOutbound, type OutboundExtras } from "../../src/server/compose.js";
import { createInboundResolver, createInboundVerifier } from "../../src/server/inbound-verifier.js";
import { createSmtpServer, type SmtpRole } from "../../src/smtp/index.js";
import type { Account } from "../../src/store/index.js";
import { startDnsServer, type TestDnsServer } from "./dns-server.js";
import { E2E_LIMITS } from "./smtp-harness.js";
import { CHEAP_HASH_PARAMS, cheapHash, openTempStore, type TempStore } from "./temp-store.js";

export interface Instance {
  domain: string;
  temp: TempStore;
  ports: Partial<Record<SmtpRole, number>>;
  account: Account;
  stop(): Promise<void>;
}

/** Starts SMTP listeners on 127.0.0.1:0 for the given roles over one temp store. */
export interface InstanceOptions {
  /** A certificate for the listeners (STARTTLS, 465) instead of a generated self-signed one. */
  certificate?: { certFile: string; keyFile: string };
  /** Listener TLS off: no STARTTLS offered (a receiver that cannot do TLS). */
  noTls?: boolean;
}

export async function startInstance(domain: string, user: string, roles: SmtpRole[], resolver: DnsResolver | null, options: InstanceOptions = {}): Promise<Instance> {
  const temp = await openTempStore(`mailroom-outbound-${domain}-`);
  const { store } = temp;
  await store.addDomain(domain);
  const account = await store.createAccount({ address: `${user}@${domain}`, passwordHash: await cheapHash(`${user}-pass`) });
  const hostname = `mx.${domain}`;
  const tls = await TlsContextProvider.open({ certFile: options.certificate?.certFile ?? null, keyFile: options.certificate?.keyFile ?? null, dataDir: temp.dataDir, hostname, minVersion: "TLSv1.2", log: silentLogger });
  const authenticator = new Authenticator({ accounts: store, throttle: new AuthThrottle(), log: silentLogger, hashParams: CHEAP_HASH_PARAMS, sleep: async () => {} });
  const verifier = resolver ? createInboundVerifier({ accounts: store, resolver, log: silentLogger }) : null;
  const servers: Server[] = [];
  const connections = new Set<Connection>();
  const ports: Partial<Record<SmtpRole, number>> = {};
  for (const role of roles) {
    const smtp = createSmtpServer({ role, store, accounts: store, queue: store, authenticator, verifier: role === "mx" ? verifier : null, limits: E2E_LIMITS, tls: options.noTls ? null : tls, hostname, log: silentLogger });
    const server = createServer((socket: Socket) => {
      const raw = role === "submissions" ? new TLSSocket(socket, { isServer: true, secureContext: tls.current() }) : socket;
      const connection = new Connection(raw, { log: silentLogger, closeLingerMs: 200, tlsMode: role === "submissions" ? "implicit" : "starttls" });
      connections.add(connection);
      const run = async () => {
        if (raw instanceof TLSSocket) await once(raw, "secure");
        await smtp.accept(connection);
      };
      run().catch(() => connection.destroy()).finally(() => connections.delete(connection));
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    ports[role] = (server.address() as { port: number }).port;
    servers.push(server);
  }
  return {
    domain,
    temp,
    ports,
    account,
    async stop() {
      for (const connection of connections) connection.destroy();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
      await temp.cleanup();
    },
  };
}

export type FrontMode = "pass" | "tempfail" | "down" | "capture";

/** A switchable stand-in for a destination's port 25: proxy, scripted 451, or nothing listening. */
export class Front {
  mode: FrontMode = "pass";
  port = 0;
  #server: Server | null = null;
  readonly #sockets = new Set<Socket>();
  readonly #target: number;

  constructor(target: number) {
    this.#target = target;
  }

  async listen(): Promise<void> {
    const server = createServer((socket) => this.#accept(socket));
    server.listen(this.port, "127.0.0.1");
    await once(server, "listening");
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** Closes the listener and every connection: connections are refused until up(). */
  async down(): Promise<void> {
    this.mode = "down";
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server?.close(resolve));
    this.#server = null;
  }

  async up(mode: FrontMode = "pass"): Promise<void> {
    this.mode = mode;
    if (!this.#server) await this.listen();
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => undefined);
    if (this.mode === "pass") {
      const upstream = connect(this.#target, "127.0.0.1");
      upstream.on("error", () => socket.destroy());
      socket.on("close", () => upstream.destroy());
      upstream.on("close", () => socket.destroy());
      socket.pipe(upstream).pipe(socket);
      return;
    }
    if (this.mode === "capture") {
      this.#capture(socket);
      return;
    }
    // RFC 5321 §4.2.3 451: a server with a temporary problem, as greylisting looks.
    socket.write("220 front.test ESMTP\r\n");
    let buffer = "";
    socket.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("latin1");
      let end: number;
      while ((end = buffer.indexOf("\r\n")) >= 0) {
        const verb = buffer.slice(0, end).split(/[ :]/)[0]!.toUpperCase();
        buffer = buffer.slice(end + 2);
        const answer: Record<string, string> = { EHLO: "250-front.test\r\n250 PIPELINING\r\n", RCPT: "451 4.7.1 Greylisted, try again later\r\n", DATA: "554 5.5.1 No valid recipients\r\n", QUIT: "221 2.0.0 Bye\r\n" };
        socket.write(answer[verb] ?? "250 2.0.0 Ok\r\n");
        if (verb === "QUIT") socket.end();
      }
    });
  }

  /** Messages taken in "capture" mode: the MAIL line and the data as received (unstuffed). */
  readonly captured: { mailFrom: string; data: Buffer }[] = [];

  /** An old-style receiver: EHLO offers neither 8BITMIME nor STARTTLS; every message is kept. */
  #capture(socket: Socket): void {
    socket.write("220 old.front.test ESMTP\r\n");
    let buffer = Buffer.alloc(0);
    let inData = false;
    let mailFrom = "";
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (inData) {
          const end = buffer.indexOf("\r\n.\r\n");
          if (end < 0) return;
          const data = Buffer.from(buffer.subarray(0, end + 2).toString("latin1").replace(/^\.\./gm, "."), "latin1");
          buffer = buffer.subarray(end + 5);
          inData = false;
          this.captured.push({ mailFrom, data });
          socket.write("250 2.0.0 Ok: kept\r\n");
          continue;
        }
        const end = buffer.indexOf("\r\n");
        if (end < 0) return;
        const line = buffer.subarray(0, end).toString("latin1");
        buffer = buffer.subarray(end + 2);
        const verb = line.split(/[ :]/)[0]!.toUpperCase();
        if (verb === "EHLO") socket.write("250-old.front.test\r\n250-PIPELINING\r\n250 SIZE 10000000\r\n");
        else if (verb === "MAIL") {
          mailFrom = line;
          socket.write("250 2.1.0 Ok\r\n");
        } else if (verb === "DATA") {
          inData = true;
          socket.write("354 go ahead\r\n");
        } else if (verb === "QUIT") {
          socket.end("221 2.0.0 Bye\r\n");
          return;
        } else socket.write("250 2.0.0 Ok\r\n");
      }
    });
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => (this.#server ? this.#server.close(resolve) : resolve(undefined)));
  }
}

export interface OutboundPair {
  a: Instance;
  b: Instance;
  front: Front;
  worker: OutboundWorker;
  /** The loopback DNS server both instances ask (their outbound.dns_servers). */
  dns: TestDnsServer;
  /** A's configuration, as its worker was built from it. */
  config: Config;
  /** Resolves with the next attempt report that satisfies `match`. */
  nextAttempt(match?: (report: AttemptReport) => boolean, timeoutMs?: number): Promise<AttemptReport>;
  stop(): Promise<void>;
}

export interface OutboundPairOptions {
  retry?: Partial<RetryPolicy>;
  /** Extra DNS records (merged over the defaults). */
  dns?: DnsTable;
  /** Worker concurrency and connections per destination (10 and 4 by default). */
  concurrency?: number;
  perDestination?: number;
  /** More lines for A's [outbound] section (require_tls, smarthost, routes…), maybe naming B's ports. */
  outboundToml?: string | ((started: { b: Instance; front: Front }) => string);
  /** Passed to createOutbound beside the config (a test CA, an MTA-STS fetcher…). */
  extras?: OutboundExtras;
  /** How B's listeners do TLS. */
  b?: InstanceOptions;
  /** B's listeners: its MX by default; add "submissions" to make B a smarthost. */
  bRoles?: SmtpRole[];
  /** A's outbound log (silent by default). */
  log?: Logger;
}

/** The records of the two test domains: MX, A, SPF and DMARC of a.test; MX and A of b.test. */
export function baseDnsTable(): DnsTable {
  return {
    "a.test": { MX: [{ exchange: "mx.a.test", priority: 10 }], TXT: [["v=spf1 ip4:127.0.0.1 -all"]] },
    "mx.a.test": { A: ["127.0.0.1"] },
    "_dmarc.a.test": { TXT: [["v=DMARC1; p=reject"]] },
    "b.test": { MX: [{ exchange: "mx.b.test", priority: 10 }] },
    "mx.b.test": { A: ["127.0.0.1"] },
  };
}

function seconds(ms: number): string {
  return `"${ms}ms"`;
}

/** A's configuration text: its resolver is the loopback DNS server, its MX port B's front. */
export function outboundConfigText(options: { dataDir: string; dnsServer: string; remotePort: number; retry: RetryPolicy; concurrency: number; perDestination: number; commandTimeoutMs?: number; extra?: string }): string {
  return [
    "[server]",
    'hostname = "mx.a.test"',
    `data_dir = ${JSON.stringify(options.dataDir)}`,
    "[outbound]",
    `dns_servers = [${JSON.stringify(options.dnsServer)}]`,
    `remote_port = ${options.remotePort}`,
    `retry_schedule = [${options.retry.scheduleMs.map(seconds).join(", ")}]`,
    `max_lifetime = ${seconds(options.retry.maxLifetimeMs)}`,
    `delay_warning = ${seconds(options.retry.delayWarningMs)}`,
    `workers = ${options.concurrency}`,
    `per_destination = ${options.perDestination}`,
    'connect_timeout = "2s"',
    `command_timeout = ${seconds(options.commandTimeoutMs ?? 5000)}`,
    options.extra ?? "",
  ].join("\n");
}

export async function startOutboundPair(options: OutboundPairOptions = {}): Promise<OutboundPair> {
  const dns = await startDnsServer({ ...baseDnsTable(), ...options.dns });
  // B checks SPF, DKIM and DMARC through the resolver its config names, as `mailroom serve` does.
  const b = await startInstance("b.test", "bob", options.bRoles ?? ["mx"], createInboundResolver(parseConfigText(`[outbound]\ndns_servers = ["${dns.address}"]`).outbound.dnsServers), options.b);
  const a = await startInstance("a.test", "alice", ["mx", "submission"], null);
  const keyDir = join(a.temp.dataDir, "dkim");
  const keys = await generateDkimKeys(keyDir, "a.test", "mailroom");
  for (const key of keys.keys) dns.set(`${key.selector}._domainkey.a.test`, { TXT: [[dkimTxtRecord(key)]] });
  const front = new Front(b.ports.mx!);
  await front.listen();
  const store = a.temp.store;
  const retry: RetryPolicy = { scheduleMs: [200], maxLifetimeMs: 60_000, delayWarningMs: 0, ...options.retry };
  const config = parseConfigText(
    outboundConfigText({ dataDir: a.temp.dataDir, dnsServer: dns.address, remotePort: front.port, retry, concurrency: options.concurrency ?? 10, perDestination: options.perDestination ?? 4, ...(options.outboundToml ? { extra: typeof options.outboundToml === "string" ? options.outboundToml : options.outboundToml({ b, front }) } : {}) }),
  );
  const composed = { mail: store, accounts: store, queue: store, tlsRptSessions: store, close: async () => undefined };
  const worker = await createOutbound(config, composed, options.log ?? silentLogger, { pollIntervalMs: 50, ...options.extras });
  const waiters: { match: (report: AttemptReport) => boolean; resolve: (report: AttemptReport) => void }[] = [];
  worker.onAttempt = (report) => {
    for (const waiter of [...waiters]) {
      if (!waiter.match(report)) continue;
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(report);
    }
  };
  await worker.start();
  return {
    a,
    b,
    front,
    worker,
    dns,
    config,
    nextAttempt(match = () => true, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no matching delivery attempt in time")), timeoutMs);
        waiters.push({
          match,
          resolve: (report) => {
            clearTimeout(timer);
            resolve(report);
          },
        });
      });
    },
    async stop() {
      await worker.stop();
      await front.close();
      await a.stop();
      await b.stop();
      await dns.close();
    },
  };
}

/** Every message of an instance's INBOX as text (trace prefix included). */
export async function inboxTexts(instance: Instance): Promise<string[]> {
  const { store } = instance.temp;
  const mailbox = await store.getMailbox(instance.account.id, "INBOX");
  if (mailbox === null) throw new Error("no INBOX");
  const messages = await store.getMessages(mailbox.id, (await store.listMessages(mailbox.id)).map((s) => s.uid));
  const out: string[] = [];
  for (const message of messages) {
    const parts: Buffer[] = [];
    for await (const chunk of store.openMessage(message)) parts.push(chunk as Buffer);
    out.push(Buffer.concat(parts).toString("utf8"));
  }
  return out;
}
