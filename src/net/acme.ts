// Certificates that renew themselves: ACME (RFC 8555) through acme-client, one certificate per host
// name the server needs (server.hostname, and mta-sts.<domain> and autoconfig.<domain> for each
// local domain, plus acme.names). Validation by HTTP-01 (RFC 8555 §8.3, answered by the HTTP
// service on port 80) or TLS-ALPN-01 (RFC 8737, answered on the HTTPS port), in the order of
// acme.challenges among those whose port is actually bound.
//
// Durable: the account key and every certificate with its key live in <data_dir>/acme/ (written
// beside and renamed, keys 0600), and are loaded at start, so a restart reuses them and orders
// nothing. Renewal starts at two thirds of a certificate's lifetime (Let's Encrypt's advice for
// 90-day certificates: 30 days before expiry); a failed order is retried after acme.retry_min,
// doubling up to acme.retry_max. A new certificate goes straight into the TlsContextProvider, so
// every listener (SMTP, IMAP, POP3, HTTPS) serves it from the next handshake by SNI, and server.hostname's
// certificate becomes the default for clients that send no SNI. docs/architecture.md, "Certificates (ACME)".
//
// Shared (the PostgreSQL backend: options.shared, store/node-state-store.ts): the account key and
// the certificates live in the database, not in <data_dir>/acme/, so a new node serves the same
// certificates at once and a wiped node loses nothing. One node orders a name at a time (a claim
// in the database); the others read what it stored every acme.shared_check_interval and serve it
// from the next handshake, and drop a certificate revoked elsewhere. HTTP-01 and TLS-ALPN-01 answers
// are stored too, because the CA's validation request may reach any node behind the balancer
// (docs/scale-out.md): every node answers from the database what another node's order created.

import { X509Certificate, createHash, createPrivateKey, randomUUID } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, rm } from "node:fs/promises";
import { Agent } from "node:https";
import { isIP } from "node:net";
import { join } from "node:path";
import { createSecureContext, type SecureContext } from "node:tls";
import type * as AcmeClientModule from "acme-client";
import type { Logger } from "../observability/log.js";
import type { TlsContextProvider } from "./tls-context.js";

export type AcmeChallengeType = "http-01" | "tls-alpn-01";

export interface AcmeSettings {
  directoryUrl: string;
  /** "mailto:" URLs (RFC 8555 §7.3); plain addresses are given the scheme. */
  contact: string[];
  /** Names wanted beyond the derived ones. */
  names: string[];
  /** mta-sts.<domain> and autoconfig.<domain> for every local domain. */
  domainNames: boolean;
  challenges: AcmeChallengeType[];
  keyType: "ecdsa" | "rsa";
  /** PEM file of a CA that signs the ACME server's own HTTPS certificate (a private ACME server), or null for the system's. */
  directoryCaFile: string | null;
  /** Milliseconds. */
  retryMin: number;
  retryMax: number;
}

/** What the shared store (PostgreSQL, store/node-state-store.ts AcmeStateStore) offers the ACME manager. */
export interface AcmeSharedState {
  readAcmeAccountKey(): Promise<string | null>;
  saveAcmeAccountKey(keyPem: string): Promise<string>;
  listAcmeCertificates(): Promise<{ name: string; certPem: string; keyPem: string; updatedAt: number }[]>;
  readAcmeCertificate(name: string): Promise<{ name: string; certPem: string; keyPem: string; updatedAt: number } | null>;
  saveAcmeCertificate(name: string, certPem: string, keyPem: string): Promise<void>;
  deleteAcmeCertificate(name: string): Promise<void>;
  claimAcmeOrder(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseAcmeOrder(name: string, holder: string): Promise<void>;
  saveAcmeHttpChallenge(token: string, keyAuthorization: string, ttlMs: number): Promise<void>;
  readAcmeHttpChallenge(token: string): Promise<string | null>;
  deleteAcmeHttpChallenge(token: string): Promise<void>;
  saveAcmeAlpnChallenge(name: string, certPem: string, keyPem: string, ttlMs: number): Promise<void>;
  readAcmeAlpnChallenge(name: string): Promise<{ certPem: string; keyPem: string } | null>;
  deleteAcmeAlpnChallenge(name: string): Promise<void>;
}

/** Shared-store TLS-ALPN-01 lookups one client address may cause per minute (alpnContextAnywhere). */
export const ALPN_SHARED_LOOKUPS_PER_MINUTE = 20;

/** A fixed-window count per client address; the table is bounded (reset when it grows past 10000). */
class PerAddressLimit {
  private readonly counts = new Map<string, { windowStart: number; count: number }>();
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  allow(address: string, now = Date.now()): boolean {
    let entry = this.counts.get(address);
    if (entry === undefined || now - entry.windowStart >= this.windowMs) {
      if (entry === undefined && this.counts.size >= 10_000) this.counts.clear();
      entry = { windowStart: now, count: 0 };
      this.counts.set(address, entry);
    }
    entry.count += 1;
    return entry.count <= this.max;
  }
}

/** The pending answers to the CA's validation requests, read by the HTTP service. */
export class AcmeChallenges {
  private readonly http = new Map<string, string>();
  private readonly alpn = new Map<string, SecureContext>();
  private readonly sharedLookups = new PerAddressLimit(ALPN_SHARED_LOOKUPS_PER_MINUTE, 60_000);

  /** shared: HTTP-01 and TLS-ALPN-01 answers another node stored (the CA's request may come to any node). */
  constructor(private readonly shared: Pick<AcmeSharedState, "readAcmeHttpChallenge" | "readAcmeAlpnChallenge"> | null = null) {}

  /** HTTP-01: the key authorization for /.well-known/acme-challenge/<token> (RFC 8555 §8.3). */
  httpResponse(token: string): string | undefined {
    return this.http.get(token);
  }

  /** HTTP-01 as answered by any node: this node's pending answers, then the shared store's. */
  async httpResponseAnywhere(token: string): Promise<string | undefined> {
    const local = this.http.get(token);
    if (local !== undefined || this.shared === null) return local;
    return (await this.shared.readAcmeHttpChallenge(token)) ?? undefined;
  }

  /** TLS-ALPN-01: the context with the acmeIdentifier certificate for `name` (RFC 8737 §3). */
  alpnContext(name: string): SecureContext | undefined {
    return this.alpn.get(name.toLowerCase());
  }

  /**
   * TLS-ALPN-01 as answered by any node: this node's pending challenge, then the shared store's
   * (an order another node runs). Read only for a ClientHello offering acme-tls/1, which ordinary
   * clients never do, so the store is not asked per connection.
   */
  async alpnContextAnywhere(name: string, remote = ""): Promise<SecureContext | undefined> {
    const local = this.alpn.get(name.toLowerCase());
    if (local !== undefined || this.shared === null) return local;
    // Anyone may offer acme-tls/1: a client doing so over and over would make one store query per
    // connection. The CA validates a name from a handful of addresses a few times per order.
    if (!this.sharedLookups.allow(remote)) return undefined;
    const stored = await this.shared.readAcmeAlpnChallenge(name.toLowerCase());
    return stored === null ? undefined : createSecureContext({ key: stored.keyPem, cert: stored.certPem });
  }

  get pendingAlpn(): number {
    return this.alpn.size;
  }

  /**
   * Whether an HTTPS connection's ClientHello must be looked at for acme-tls/1: while this node
   * has a challenge pending, and always with a shared store (another node's may be pending).
   */
  get mayAnswerAlpn(): boolean {
    return this.alpn.size > 0 || this.shared !== null;
  }

  setHttp(token: string, keyAuthorization: string): void {
    this.http.set(token, keyAuthorization);
  }

  deleteHttp(token: string): void {
    this.http.delete(token);
  }

  setAlpn(name: string, context: SecureContext): void {
    this.alpn.set(name.toLowerCase(), context);
  }

  deleteAlpn(name: string): void {
    this.alpn.delete(name.toLowerCase());
  }
}

export interface AcmeNameStatus {
  name: string;
  /** Null until a certificate exists. */
  validFrom: Date | null;
  validTo: Date | null;
  renewAt: Date | null;
  serial: string | null;
  failures: number;
  lastError: string | null;
  /** When the next order is due (renewal or retry). */
  nextAttempt: Date;
}

export interface AcmeManagerOptions {
  settings: AcmeSettings;
  dataDir: string;
  hostname: string;
  tls: TlsContextProvider;
  challenges: AcmeChallenges;
  /** Local domains (for the derived names); read at every check, so a new domain gets its names. */
  domains(): Promise<string[]>;
  /** The challenge types whose port is bound now (http-01: the HTTP port, tls-alpn-01: the HTTPS port). */
  availableChallenges(): AcmeChallengeType[];
  log: Logger;
  clock?: () => number;
  /** The shared store (PostgreSQL): certificates and the account key live there instead of <data_dir>/acme/. */
  shared?: AcmeSharedState | null;
  /** How often a shared-store node looks for certificates another node stored (ms, default 60 s). */
  sharedCheckIntervalMs?: number;
}

/** How long one node's claim to order a name lasts: longer than any order (acme-client gives up well before). */
const ORDER_CLAIM_MS = 15 * 60_000;
/** How long a stored HTTP-01 or TLS-ALPN-01 answer stays valid if the order never removes it (a node killed mid-order). */
const CHALLENGE_TTL_MS = 30 * 60_000;

/** One certificate per name; the state the scheduler keeps about each. */
interface NameState {
  certificate: X509Certificate | null;
  failures: number;
  lastError: string | null;
  /** Epoch ms; 0 = due now. */
  nextAttempt: number;
}

/**
 * acme-client (with axios and its X.509 stack) is loaded on first use only: a server without
 * [acme] never pays for it in memory (its heap, and so its GC rhythm, stay as they were).
 */
let acmeModule: Promise<typeof AcmeClientModule> | null = null;
function loadAcme(): Promise<typeof AcmeClientModule> {
  acmeModule ??= import("acme-client").then((module) => ((module as unknown as { default?: typeof AcmeClientModule }).default ?? module) as typeof AcmeClientModule);
  return acmeModule;
}

/** Checks at least this often: new domains get their names, and long timers never overflow. */
const MAX_SLEEP_MS = 3_600_000;
/** RFC 8555 §8.3/§8.4 token and DNS-name shapes, for what reaches the file system and the route. */
const DNS_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export class AcmeManager {
  private readonly state = new Map<string, NameState>();
  private client: AcmeClientModule.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly now: () => number;
  private readonly dir: string;
  private readonly shared: AcmeSharedState | null;
  /** Shared store: the updatedAt of the stored certificate each name serves now. */
  private readonly adopted = new Map<string, number>();
  /** Names this node ordered at the CA's and holds in the shared store under this id. */
  private readonly nodeId = randomUUID();
  private syncTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: AcmeManagerOptions) {
    this.now = options.clock ?? Date.now;
    this.dir = join(options.dataDir, "acme");
    this.shared = options.shared ?? null;
  }

  /** The names this server wants certificates for, valid DNS names only (no IP address, no single label). */
  async wantedNames(): Promise<string[]> {
    const names = new Set<string>();
    const add = (raw: string) => {
      const name = raw.toLowerCase().replace(/\.$/, "");
      if (DNS_NAME.test(name) && isIP(name) === 0) names.add(name);
      else this.options.log.debug("acme.name_skipped", { name: raw, reason: "not a public DNS name" });
    };
    add(this.options.hostname);
    for (const name of this.options.settings.names) add(name);
    if (this.options.settings.domainNames) {
      for (const domain of await this.options.domains()) {
        add(`mta-sts.${domain}`);
        add(`autoconfig.${domain}`);
      }
    }
    return [...names].sort();
  }

  /** Loads the stored certificates into the TLS contexts (at start, before the listeners take clients). */
  async loadStored(): Promise<number> {
    if (this.shared !== null) return this.syncShared();
    let entries: string[];
    try {
      entries = await readdir(join(this.dir, "certificates"));
    } catch {
      return 0;
    }
    let loaded = 0;
    for (const entry of entries.filter((file) => file.endsWith(".crt"))) {
      const name = entry.slice(0, -4);
      try {
        const { certPem, keyPem } = await this.readStored(name);
        const certificate = new X509Certificate(certPem);
        if (Date.parse(certificate.validTo) <= this.now()) {
          this.options.log.warn("acme.stored_expired", { name, validTo: new Date(certificate.validTo).toISOString() });
          continue;
        }
        this.options.tls.setNamedCertificate(certPem, keyPem, this.certFile(name));
        this.state.set(name, { certificate, failures: 0, lastError: null, nextAttempt: renewalTime(certificate) });
        // Certificates from before next keys existed get one now, a whole lifetime before it is used.
        await this.ensureNextKey(name);
        loaded++;
      } catch (error) {
        this.options.log.error("acme.stored_unreadable", { name, error: (error as Error).message });
      }
    }
    return loaded;
  }

  /** Starts checking now and then on schedule. */
  start(): void {
    this.stopped = false;
    this.schedule(0);
    if (this.shared !== null && this.syncTimer === null) {
      this.syncTimer = setInterval(() => {
        void this.syncShared().catch((error: unknown) => this.options.log.warn("acme.shared_check_failed", { error: (error as Error).message }));
      }, this.options.sharedCheckIntervalMs ?? 60_000);
      this.syncTimer.unref();
    }
  }

  /**
   * Shared store: serves every stored certificate newer than the one this node serves (stored by
   * another node's order or renewal), and stops serving those deleted there (revoked). Returns how
   * many certificates were taken up.
   */
  async syncShared(): Promise<number> {
    if (this.shared === null) return 0;
    const stored = await this.shared.listAcmeCertificates();
    let taken = 0;
    const present = new Set<string>();
    for (const entry of stored) {
      present.add(entry.name);
      if ((this.adopted.get(entry.name) ?? -1) >= entry.updatedAt) continue;
      if (this.adopt(entry)) taken++;
    }
    for (const name of [...this.adopted.keys()]) {
      if (present.has(name)) continue;
      this.adopted.delete(name);
      this.options.tls.removeNamedCertificate(name);
      this.state.set(name, { certificate: null, failures: 0, lastError: null, nextAttempt: 0 });
      this.options.log.warn("acme.shared_removed", { name });
    }
    return taken;
  }

  /** Serves a certificate from the shared store; false when it is unusable (expired, broken). */
  private adopt(entry: { name: string; certPem: string; keyPem: string; updatedAt: number }): boolean {
    try {
      const certificate = new X509Certificate(entry.certPem);
      this.adopted.set(entry.name, entry.updatedAt);
      if (Date.parse(certificate.validTo) <= this.now()) {
        this.options.log.warn("acme.stored_expired", { name: entry.name, validTo: new Date(certificate.validTo).toISOString() });
        return false;
      }
      this.options.tls.setNamedCertificate(entry.certPem, entry.keyPem, `acme certificate ${entry.name} (shared store)`);
      // The same object the scheduler may hold (check() keeps a reference while it orders).
      const state = this.state.get(entry.name) ?? { certificate: null, failures: 0, lastError: null, nextAttempt: 0 };
      state.certificate = certificate;
      state.failures = 0;
      state.lastError = null;
      state.nextAttempt = renewalTime(certificate);
      this.state.set(entry.name, state);
      this.options.log.info("acme.shared_loaded", { name: entry.name, serial: certificate.serialNumber, validTo: new Date(certificate.validTo).toISOString() });
      return true;
    } catch (error) {
      this.options.log.error("acme.stored_unreadable", { name: entry.name, error: (error as Error).message });
      return false;
    }
  }

  /** Stops the schedule and waits for an order in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.syncTimer !== null) clearInterval(this.syncTimer);
    this.syncTimer = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }

  /** Runs one check (orders what is due) now, and resolves when it is over. */
  checkNow(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.running ??= this.check().finally(() => {
      this.running = null;
      if (!this.stopped) this.schedule(this.sleepMs());
    });
    return this.running;
  }

  status(): AcmeNameStatus[] {
    return [...this.state.entries()].map(([name, state]) => ({
      name,
      validFrom: state.certificate === null ? null : new Date(state.certificate.validFrom),
      validTo: state.certificate === null ? null : new Date(state.certificate.validTo),
      renewAt: state.certificate === null ? null : new Date(renewalTime(state.certificate)),
      serial: state.certificate?.serialNumber ?? null,
      failures: state.failures,
      lastError: state.lastError,
      nextAttempt: new Date(state.nextAttempt),
    }));
  }

  /** Orders a new certificate for `name` now (`mailroom acme renew`), whatever its renewal time; resolves when the check is over. */
  async renew(name: string): Promise<AcmeNameStatus> {
    const key = name.toLowerCase();
    if (!(await this.wantedNames()).includes(key)) throw new Error(`${key} is not a name this server gets certificates for`);
    const state = this.state.get(key) ?? { certificate: null, failures: 0, lastError: null, nextAttempt: 0 };
    state.nextAttempt = 0;
    this.state.set(key, state);
    // A check in progress may have passed this name already: wait for it, then run one more.
    await this.running?.catch(() => {});
    await this.checkNow();
    return this.status().find((entry) => entry.name === key)!;
  }

  /**
   * Revokes the certificate of `name` at the CA (RFC 8555 §7.6), stops serving it, deletes it, and
   * orders a replacement at once (the listeners serve the default certificate meanwhile).
   */
  async revoke(name: string, reason = 0): Promise<void> {
    const key = name.toLowerCase();
    const { certPem } = await this.readStored(key);
    const client = await this.accountClient();
    await client.revokeCertificate(certPem, { reason });
    this.options.tls.removeNamedCertificate(key);
    if (this.shared !== null) {
      await this.shared.deleteAcmeCertificate(key);
      this.adopted.delete(key);
    } else {
      await rm(this.certFile(key), { force: true });
      await rm(this.keyFile(key), { force: true });
    }
    this.options.log.warn("acme.revoked", { name: key, serial: new X509Certificate(certPem).serialNumber, reason });
    this.state.set(key, { certificate: null, failures: 0, lastError: null, nextAttempt: 0 });
    await this.checkNow();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.checkNow();
    }, Math.max(0, Math.min(ms, MAX_SLEEP_MS)));
    this.timer.unref();
  }

  private sleepMs(): number {
    const next = Math.min(...[...this.state.values()].map((state) => state.nextAttempt), this.now() + MAX_SLEEP_MS);
    return Math.max(1000, next - this.now());
  }

  /** Orders a certificate for every wanted name that has none, is past its renewal time, or whose retry is due. */
  private async check(): Promise<void> {
    let names: string[];
    try {
      names = await this.wantedNames();
    } catch (error) {
      this.options.log.error("acme.names_failed", { error: (error as Error).message });
      return;
    }
    for (const name of names) {
      if (this.stopped) return;
      const state = this.state.get(name) ?? { certificate: null, failures: 0, lastError: null, nextAttempt: 0 };
      this.state.set(name, state);
      if (state.nextAttempt > this.now()) continue;
      try {
        if (this.shared === null) await this.order(name, state);
        else await this.orderShared(name, state);
      } catch (error) {
        this.failed(name, state, error);
      }
    }
  }

  private failed(name: string, state: NameState, error: unknown): void {
    state.failures++;
    const delay = Math.min(this.options.settings.retryMax, this.options.settings.retryMin * 2 ** (state.failures - 1));
    state.nextAttempt = this.now() + delay;
    const message = error instanceof Error ? error.message : String(error);
    state.lastError = message.slice(0, 500);
    const fields = { name, failures: state.failures, retryAt: new Date(state.nextAttempt).toISOString(), error: state.lastError, servingUntil: state.certificate?.validTo ?? null };
    // RFC 8555 §6.7: urn:ietf:params:acme:error:rateLimited. Said plainly: retrying sooner makes it worse.
    if (/rateLimited|too many/i.test(message)) this.options.log.error("acme.rate_limited", { ...fields, hint: "the CA's rate limit was reached; the next attempt waits as scheduled (see the CA's rate-limit documentation)" });
    else this.options.log.error("acme.order_failed", fields);
  }

  /**
   * Shared store: one node orders a name at a time. Without the claim this node looks again at the
   * next shared check; with it, a certificate another node stored meanwhile is taken up instead of
   * ordering a second one.
   */
  private async orderShared(name: string, state: NameState): Promise<void> {
    const shared = this.shared!;
    if (!(await shared.claimAcmeOrder(name, this.nodeId, ORDER_CLAIM_MS))) {
      state.nextAttempt = this.now() + (this.options.sharedCheckIntervalMs ?? 60_000);
      this.options.log.info("acme.ordering_elsewhere", { name, lookAgainAt: new Date(state.nextAttempt).toISOString() });
      return;
    }
    try {
      // `mailroom acme renew` (nextAttempt 0 with a certificate) orders whatever is stored.
      const forced = state.nextAttempt === 0 && state.certificate !== null;
      const stored = forced ? null : await shared.readAcmeCertificate(name);
      if (stored !== null && (this.adopted.get(name) ?? -1) < stored.updatedAt && this.adopt(stored) && state.nextAttempt > this.now()) return;
      await this.order(name, state);
    } finally {
      await shared.releaseAcmeOrder(name, this.nodeId).catch(() => undefined);
    }
  }

  private async order(name: string, state: NameState): Promise<void> {
    const available = this.options.availableChallenges();
    const priority = this.options.settings.challenges.filter((type) => available.includes(type));
    if (priority.length === 0) throw new Error(`no challenge type can be answered: acme.challenges is ${JSON.stringify(this.options.settings.challenges)}, but the HTTP service answers only ${JSON.stringify(available)} (http-01 needs the HTTP port, tls-alpn-01 the HTTPS port)`);
    const client = await this.accountClient();
    const acme = await loadAcme();
    const keyPem = await this.keyForOrder(name);
    const [, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] }, keyPem);
    this.options.log.info("acme.ordering", { name, challenges: priority, renewal: state.certificate !== null });
    const certPem = await client.auto({
      csr,
      termsOfServiceAgreed: true,
      challengePriority: priority,
      // The CA checks from outside; a check from here would need our own DNS to point at us.
      skipChallengeVerification: true,
      challengeCreateFn: async (authz, challenge, keyAuthorization) => {
        this.options.log.info("acme.challenge", { name: authz.identifier.value, type: challenge.type });
        const type: string = challenge.type;
        if (type === "http-01") {
          this.options.challenges.setHttp(challenge.token, keyAuthorization);
          await this.shared?.saveAcmeHttpChallenge(challenge.token, keyAuthorization, CHALLENGE_TTL_MS);
        } else if (type === "tls-alpn-01") {
          const [alpnKey, alpnCert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
          this.options.challenges.setAlpn(authz.identifier.value, createSecureContext({ key: alpnKey, cert: alpnCert }));
          await this.shared?.saveAcmeAlpnChallenge(authz.identifier.value, alpnCert.toString(), alpnKey.toString(), CHALLENGE_TTL_MS);
        } else throw new Error(`challenge type ${type} is not answered`);
      },
      challengeRemoveFn: async (authz, challenge) => {
        if (challenge.type === "http-01") {
          this.options.challenges.deleteHttp(challenge.token);
          await this.shared?.deleteAcmeHttpChallenge(challenge.token).catch(() => undefined);
        } else {
          this.options.challenges.deleteAlpn(authz.identifier.value);
          await this.shared?.deleteAcmeAlpnChallenge(authz.identifier.value).catch(() => undefined);
        }
      },
    });
    // The CA returns the leaf first, then its chain (RFC 8555 §7.4.2): the leaf is what we check.
    const certificate = new X509Certificate(certPem);
    await this.store(name, certPem, keyPem.toString());
    // The key just used was the published "next" one; a new next key is made for the renewal after.
    await this.ensureNextKey(name, keyPem.toString());
    this.options.tls.setNamedCertificate(certPem, keyPem, this.shared === null ? this.certFile(name) : `acme certificate ${name} (shared store)`);
    if (this.shared !== null) this.adopted.set(name, (await this.shared.readAcmeCertificate(name))?.updatedAt ?? this.now());
    state.certificate = certificate;
    state.failures = 0;
    state.lastError = null;
    state.nextAttempt = renewalTime(certificate);
    this.options.log.info("acme.issued", {
      name,
      serial: certificate.serialNumber,
      validTo: new Date(certificate.validTo).toISOString(),
      renewAt: new Date(state.nextAttempt).toISOString(),
      fingerprint256: certificate.fingerprint256,
    });
  }

  /** The ACME client with our account, registered (or found again: RFC 8555 §7.3.1) once per process. */
  private async accountClient(): Promise<AcmeClientModule.Client> {
    if (this.client !== null) return this.client;
    const acme = await loadAcme();
    const settings = this.options.settings;
    if (settings.directoryCaFile !== null) {
      // acme-client talks through its own axios instance; a private ACME server's CA is trusted there only.
      acme.axios.defaults.httpsAgent = new Agent({ ca: await readFile(settings.directoryCaFile), keepAlive: false });
    }
    const accountKey = await this.accountKey();
    const client = new acme.Client({ directoryUrl: settings.directoryUrl, accountKey, backoffMin: 500, backoffMax: 10_000, backoffAttempts: 12 });
    const contact = settings.contact.map((entry) => (entry.includes(":") ? entry : `mailto:${entry}`));
    await client.createAccount({ termsOfServiceAgreed: true, ...(contact.length > 0 ? { contact } : {}) });
    this.options.log.info("acme.account", { directoryUrl: settings.directoryUrl, account: client.getAccountUrl(), contact });
    this.client = client;
    return client;
  }

  private async accountKey(): Promise<Buffer> {
    if (this.shared !== null) {
      const stored = await this.shared.readAcmeAccountKey();
      if (stored !== null) return Buffer.from(stored);
      const created = (await (await loadAcme()).crypto.createPrivateEcdsaKey("P-256")).toString();
      // Two nodes creating it at once: both use the one that was stored first.
      return Buffer.from(await this.shared.saveAcmeAccountKey(created));
    }
    const file = join(this.dir, "account.key");
    try {
      return await readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const key = await (await loadAcme()).crypto.createPrivateEcdsaKey("P-256");
    await writeDurably(file, key, 0o600);
    return key;
  }

  /**
   * The key of the next certificate for `name`, made a whole certificate lifetime before it is
   * used so that `mailroom dns` can print its TLSA record (3 1 1) beside the current one and a
   * renewal never changes the key under a published record (RFC 7671 §8.1, "current + next").
   * The shared store (PostgreSQL) keeps no next key: there every order gets a fresh key.
   */
  private async keyForOrder(name: string): Promise<string | Buffer> {
    if (this.shared === null) {
      const next = await readFile(this.nextKeyFile(name), "utf8").catch(() => null);
      if (next !== null && keyMatchesType(next, this.options.settings.keyType)) return next;
    }
    return this.freshKey();
  }

  private async freshKey(): Promise<Buffer> {
    const acme = await loadAcme();
    return this.options.settings.keyType === "rsa" ? acme.crypto.createPrivateRsaKey(2048) : acme.crypto.createPrivateEcdsaKey("P-256");
  }

  /** A next key of the configured type that differs from `current`, written when missing. */
  private async ensureNextKey(name: string, current?: string): Promise<void> {
    if (this.shared !== null) return;
    const next = await readFile(this.nextKeyFile(name), "utf8").catch(() => null);
    if (next !== null && next !== current && keyMatchesType(next, this.options.settings.keyType)) return;
    try {
      await writeDurably(this.nextKeyFile(name), (await this.freshKey()).toString(), 0o600);
      this.options.log.info("acme.next_key", { name, file: this.nextKeyFile(name) });
    } catch (error) {
      this.options.log.warn("acme.next_key_failed", { name, error: (error as Error).message });
    }
  }

  /** `<name>.next.key`: never a name's .crt/.key pair, so loadStored does not read it as one. */
  private nextKeyFile(name: string): string {
    return acmeCertificateFiles(join(this.dir, ".."), name).nextKeyFile;
  }

  private certFile(name: string): string {
    return join(this.dir, "certificates", `${name}.crt`);
  }

  private keyFile(name: string): string {
    return join(this.dir, "certificates", `${name}.key`);
  }

  private async readStored(name: string): Promise<{ certPem: string; keyPem: string }> {
    if (!DNS_NAME.test(name)) throw new Error(`not a DNS name: ${name}`);
    if (this.shared !== null) {
      const stored = await this.shared.readAcmeCertificate(name);
      if (stored === null) throw new Error(`no certificate is stored for ${name}`);
      return { certPem: stored.certPem, keyPem: stored.keyPem };
    }
    return { certPem: await readFile(this.certFile(name), "utf8"), keyPem: await readFile(this.keyFile(name), "utf8") };
  }

  /** Key first, then certificate: a certificate on disk always has its key beside it. */
  private async store(name: string, certPem: string, keyPem: string): Promise<void> {
    if (this.shared !== null) return this.shared.saveAcmeCertificate(name, certPem, keyPem);
    await writeDurably(this.keyFile(name), keyPem, 0o600);
    await writeDurably(this.certFile(name), certPem, 0o644);
  }
}

/** Whether a PEM private key is of the configured ACME key type. */
function keyMatchesType(pem: string, keyType: "ecdsa" | "rsa"): boolean {
  try {
    return createPrivateKey(pem).asymmetricKeyType === (keyType === "rsa" ? "rsa" : "ec");
  } catch {
    return false;
  }
}

/** Where the ACME certificate of `name` and its next key live in a data dir (file mode). */
export function acmeCertificateFiles(dataDir: string, name: string): { certFile: string; nextKeyFile: string } {
  const dir = join(dataDir, "acme", "certificates");
  return { certFile: join(dir, `${name}.crt`), nextKeyFile: join(dir, `${name}.next.key`) };
}

/** Two thirds into the certificate's lifetime. */
export function renewalTime(certificate: Pick<X509Certificate, "validFrom" | "validTo">): number {
  const from = Date.parse(certificate.validFrom);
  const to = Date.parse(certificate.validTo);
  return from + Math.floor(((to - from) * 2) / 3);
}

/** Written beside, flushed, renamed, and the directory flushed: after a crash the old file or the new one is there, whole. */
async function writeDurably(file: string, content: string | Buffer, mode: number): Promise<void> {
  const dir = join(file, "..");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${file}.${createHash("sha256").update(`${process.pid}:${Date.now()}:${Math.random()}`).digest("hex").slice(0, 8)}.tmp`;
  const handle = await open(temp, "w", mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  const directory = await open(dir, "r");
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
