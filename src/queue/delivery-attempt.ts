// One delivery attempt of one queue entry: the open recipients are grouped by domain, each group
// is routed (smarthost, static route or MX), and its hosts are tried in order until one takes a
// transaction: one transaction per destination host for all the group's recipients, with a
// result per recipient. A host that cannot be reached (or refuses the session) gives way to the
// next (RFC 5321 §5.1); once a transaction ran, its replies are the answer.
import type { Readable } from "node:stream";
import type { Logger } from "../observability/log.js";
import type { QueuedMessage, QueueRecipient } from "../store/index.js";
import type { SmtpReply } from "../smtp/protocol/index.js";
import { resolveDestination, resolveHostAddresses, type DestinationHost, type RoutingOptions } from "./destination.js";
import type { DestinationLimiter } from "./destination-limiter.js";
import { downgradeTo7bit } from "./downgrade.js";
import { scanEightBit, type EightBitScan } from "./message-scan.js";
import { daneSession, type DaneOutcome, type DaneSession } from "./dane.js";
import { checkRequireTlsOffered, requireTlsDestination, routingFor, saysTlsOptional } from "./require-tls.js";
import { SmtpClient, SmtpClientError, oneLine, replyText, type OutboundEnvelope, type TlsFailure } from "./smtp-client.js";
import { openSession, tlsFailureStatus } from "./tls-outcome.js";
import { sessionCount, withReportPolicy, type TlsSessionRecorder } from "./tls-rpt-recorder.js";

export interface ClientSettings {
  heloName: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** Verify certificates of smarthosts (MX hosts are opportunistic and never verified). */
  verifySmarthostCertificate?: boolean;
  ca?: string | Buffer;
}

export interface AttemptDependencies {
  routing: RoutingOptions;
  client: ClientSettings;
  limiter: DestinationLimiter;
  /** A fresh stream of the bytes to send after the DKIM fields: the trace prefix, then the blob. */
  open: () => Readable;
  /** DKIM-Signature fields to send first (empty for none). */
  signatures: Buffer;
  /** DKIM-Signature fields for other bytes: a downgraded copy is signed as it is sent. */
  signBytes?: (bytes: Buffer) => Promise<Buffer>;
  log: Logger;
  /** Where TLS sessions with MX hosts are counted for TLS-RPT (RFC 8460); absent: not counted. */
  tlsSessions?: TlsSessionRecorder | null;
}

/** One recipient's result with what a DSN needs to say about it (RFC 3464 §2.3). */
export interface RecipientOutcome {
  address: string;
  state: "delivered" | "deferred" | "failed";
  /** RFC 3463 status, e.g. "5.1.1". */
  status: string;
  /** The SMTP reply as text, or our own explanation. */
  diagnostic: string;
  /** The server that answered (RFC 3464 Remote-MTA), or null when none did. */
  remoteMta: string | null;
  /** Whether the accepting server offered DSN (then it, not we, reports success). */
  remoteDsn: boolean;
  /** The host talked to last for this recipient, "name[address]:port", or null when none was reached. */
  relay?: string | null;
  /** The TLS version of that connection, or null for plaintext (or none). */
  tls?: string | null;
}

/**
 * The text kept as the recipient's last result: what `mailroom queue show` and expiry DSNs read.
 * "<host> said:" only when that host's reply is quoted; our own refusals and failures to reach a
 * host are our words. Always one line.
 */
export function resultText(outcome: RecipientOutcome): string {
  const diagnostic = oneLine(outcome.diagnostic, 1000);
  return outcome.remoteMta === null ? diagnostic : `${outcome.remoteMta} said: ${diagnostic}`;
}

/** The RFC 3463 code in a stored result, or a generic one of the right class. */
export function statusOf(text: string | null, fallbackClass: 4 | 5): string {
  const match = /(?:^|[\s:])([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)/.exec(text ?? "");
  return match ? `${match[1]}.${match[2]}.${match[3]}` : `${fallbackClass}.0.0`;
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf("@") + 1).toLowerCase();
}

/** Attempts every open recipient of the entry; groups for different domains run concurrently. */
export async function attemptDelivery(entry: QueuedMessage, deps: AttemptDependencies): Promise<RecipientOutcome[]> {
  const open = entry.recipients.filter((r) => r.state === "pending" || r.state === "deferred");
  const groups = new Map<string, QueueRecipient[]>();
  for (const recipient of open) {
    const domain = domainOf(recipient.address);
    groups.set(domain, [...(groups.get(domain) ?? []), recipient]);
  }
  const lazy: Lazy = { scan: once(() => scanEightBit(deps.open())), downgrade: once(() => downgradeBody(deps)), tlsOptional: once(() => saysTlsOptional(deps.open())) };
  const results = await Promise.all([...groups].map(([domain, recipients]) => deliverGroup(entry, domain, recipients, deps, lazy)));
  return results.flat();
}

/** What an attempt computes at most once, and only when a receiver needs it. */
interface Lazy {
  scan: () => Promise<EightBitScan>;
  /** The 7-bit copy with its own DKIM signatures (RFC 6152 §3 downgrade), or why there is none. */
  downgrade: () => Promise<{ kind: "downgraded"; body: Buffer[]; size: number } | { kind: "refused"; reason: string }>;
  /** The header says `TLS-Required: No` (queue/require-tls.ts). */
  tlsOptional: () => Promise<boolean>;
}

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | null = null;
  return () => (value ??= make());
}

async function downgradeBody(deps: AttemptDependencies): Promise<{ kind: "downgraded"; body: Buffer[]; size: number } | { kind: "refused"; reason: string }> {
  const chunks: Buffer[] = [];
  for await (const chunk of deps.open()) chunks.push(chunk as Buffer);
  const result = downgradeTo7bit(Buffer.concat(chunks));
  if (result.kind === "refused") return result;
  // The signatures cover the bytes actually sent, so they are made after the re-encoding.
  const signatures = deps.signBytes ? await deps.signBytes(result.bytes) : Buffer.alloc(0);
  return { kind: "downgraded", body: [signatures, result.bytes], size: signatures.length + result.bytes.length };
}

function everyone(recipients: QueueRecipient[], state: RecipientOutcome["state"], status: string, diagnostic: string, remoteMta: string | null = null, link: { relay: string | null; tls: string | null } = { relay: null, tls: null }): RecipientOutcome[] {
  return recipients.map((r) => ({ address: r.address, state, status, diagnostic, remoteMta, remoteDsn: false, ...link }));
}

async function deliverGroup(entry: QueuedMessage, domain: string, recipients: QueueRecipient[], deps: AttemptDependencies, lazy: Lazy): Promise<RecipientOutcome[]> {
  const tlsOptional = entry.requireTls !== true && (await lazy.tlsOptional());
  const destination = withReportPolicy(requireTlsDestination(entry, domain, await resolveDestination(domain, routingFor(entry, deps.routing, tlsOptional))), domain);
  if (destination.kind === "unreachable") return everyone(recipients, destination.permanent ? "failed" : "deferred", destination.status, destination.reason);
  let last: { permanent: boolean; status: string; diagnostic: string; remoteMta: string | null; relay: string | null; tls: string | null } = {
    permanent: false,
    status: "4.4.1",
    diagnostic: `no host of ${domain} could be reached`,
    remoteMta: null,
    relay: null,
    tls: null,
  };
  let anyTemporary = false;
  for (const host of destination.hosts) {
    if (host.dane?.mode === "defer") {
      // RFC 7672 §2.2: a host whose TLSA (or address) records cannot be validated is not used at all.
      deps.log.warn("queue.dane_failed", { queueId: entry.id, domain, host: host.name, resultType: host.dane.resultType, reason: host.dane.reason });
      deps.routing.onDaneOutcome?.({ domain, mxHost: host.name, policy: [], ok: false, resultType: host.dane.resultType, reason: host.dane.reason });
      // RFC 8460 §4.3.1: a TLSA (or address) lookup that failed validation is a failed session of the "tlsa" policy.
      if (host.tlsPolicy) deps.tlsSessions?.session(host.tlsPolicy, host.name, "", host.dane.resultType);
      last = { permanent: false, status: "4.7.5", diagnostic: `DANE: ${host.dane.reason}`, remoteMta: null, relay: null, tls: null };
      anyTemporary = true;
      continue;
    }
    const lookup = await resolveHostAddresses(host.name, deps.routing.resolver);
    if (lookup.kind === "none") {
      last = { permanent: lookup.permanent, status: lookup.permanent ? "5.4.4" : "4.4.3", diagnostic: lookup.reason, remoteMta: null, relay: null, tls: null };
      anyTemporary ||= !lookup.permanent;
      continue;
    }
    for (const address of lookup.addresses) {
      const outcome = await deliverToHost(entry, domain, host, address, recipients, deps, lazy);
      if (outcome.kind === "done") return outcome.outcomes;
      last = outcome;
      anyTemporary ||= !outcome.permanent;
    }
  }
  // Every host failed before a transaction. Permanent only when no host failed temporarily.
  const permanent = last.permanent && !anyTemporary;
  return everyone(recipients, permanent ? "failed" : "deferred", permanent ? last.status : last.status.replace(/^5/, "4"), last.diagnostic, last.remoteMta, { relay: last.relay, tls: last.tls });
}

type HostOutcome = { kind: "done"; outcomes: RecipientOutcome[] } | { kind: "next"; permanent: boolean; status: string; diagnostic: string; remoteMta: string | null; relay: string | null; tls: string | null };

async function deliverToHost(
  entry: QueuedMessage,
  domain: string,
  host: DestinationHost,
  address: string,
  recipients: QueueRecipient[],
  deps: AttemptDependencies,
  lazy: Lazy,
): Promise<HostOutcome> {
  const release = await deps.limiter.acquire(`${host.name}:${host.port}`);
  const remoteMta = host.name;
  const relay = `${host.name}[${address}]:${host.port}`;
  const tlsCount = sessionCount(deps.tlsSessions ?? null, host, address);
  let client: SmtpClient | null = null;
  const dane: DaneSession | null = daneSession(domain, host);
  let daneFailure: DaneOutcome | null = null;
  // RFC 8460 §4: the session counts once under the host's policy (tlsCount); a DANE host's
  // failure with DANE's result type (e.g. certificate-not-trusted for a TLSA mismatch).
  const onTlsFailure = (failure: TlsFailure): void => {
    daneFailure = dane ? dane.failure(failure) : null;
    tlsCount.failed(failure, daneFailure?.resultType ?? undefined);
  };
  try {
    client = await openSession({
      address,
      port: host.port,
      serverName: host.name,
      heloName: deps.client.heloName,
      connectTimeoutMs: deps.client.connectTimeoutMs,
      commandTimeoutMs: deps.client.commandTimeoutMs,
      tls: host.tls,
      auth: host.auth,
      verifyCertificate: host.verifyCertificate === true || (host.auth !== null || host.tls === "implicit" ? (deps.client.verifySmarthostCertificate ?? true) : false),
      ...(deps.client.ca ? { ca: deps.client.ca } : {}),
      ...(dane?.verifyPeer ? { verifyPeer: dane.verifyPeer } : {}),
    }, host, deps.log, entry.id, onTlsFailure);
    if (dane) deps.routing.onDaneOutcome?.(dane.success());
    tlsCount.opened(client.secure);
    checkRequireTlsOffered(host, client);
    const plan = await planEnvelope(entry, client, recipients, lazy);
    if (plan.kind === "refuse") {
      // Our refusal, not the server's: it said nothing about this message, so it is no Remote-MTA
      // (RFC 3464 §2.3.5) and the result does not read "<host> said".
      const tls = client.tlsProtocol;
      await client.quit();
      return { kind: "done", outcomes: everyone(recipients, "failed", plan.status, `not sent to ${host.name}: ${plan.diagnostic}`, null, { relay, tls }) };
    }
    if (plan.downgraded) deps.log.info("queue.downgraded", { queueId: entry.id, host: host.name, size: plan.envelope.size });
    const replies = await client.send(plan.envelope, plan.downgraded ? fromBuffers(plan.downgraded) : bodyOf(deps));
    const remoteDsn = client.extensions.has("DSN");
    const tls = client.tlsProtocol;
    await client.quit();
    return { kind: "done", outcomes: outcomesOf(recipients, replies, remoteMta, remoteDsn).map((o) => ({ ...o, relay, tls })) };
  } catch (error) {
    client?.close();
    const reply = error instanceof SmtpClientError ? error.reply : null;
    const tlsStatus = tlsFailureStatus(error, host);
    const permanent = tlsStatus?.permanent ?? (error instanceof SmtpClientError && !error.temporary);
    const diagnostic = oneLine(reply ? replyText(reply) : error instanceof Error ? error.message : String(error), 1000);
    deps.log.info("queue.host_failed", { queueId: entry.id, host: host.name, address, port: host.port, error: diagnostic });
    const failed = daneFailure as DaneOutcome | null;
    if (failed) {
      // RFC 7672 §2.2: no TLS, or TLS with a server DANE does not authenticate: 4.7.5 (5.7.10 under
      // REQUIRETLS, queue/tls-outcome.ts), never plaintext.
      deps.log.warn("queue.dane_failed", { queueId: entry.id, domain, host: host.name, address, resultType: failed.resultType, reason: failed.reason });
      deps.routing.onDaneOutcome?.(failed);
    }
    // A DANE failure is 4.7.5 (RFC 3463 X.7.5, "cryptographic failure") even when the server gave a
    // reply (a refused STARTTLS): the host could not be authenticated, the message waits (RFC 7672 §2.2).
    const status = (tlsStatus?.permanent ? tlsStatus.status : null) ?? (failed ? "4.7.5" : null) ?? reply?.enhanced ?? tlsStatus?.status ?? (error instanceof SmtpClientError ? error.status : null) ?? (permanent ? "5.0.0" : "4.4.1");
    return { kind: "next", permanent, status, diagnostic, remoteMta: reply ? remoteMta : null, relay, tls: client?.tlsProtocol ?? null };
  } finally {
    release();
  }
}

async function* fromBuffers(buffers: Buffer[]): AsyncGenerator<Buffer> {
  for (const buffer of buffers) if (buffer.length > 0) yield buffer;
}

async function* bodyOf(deps: AttemptDependencies): AsyncGenerator<Buffer> {
  if (deps.signatures.length > 0) yield deps.signatures;
  for await (const chunk of deps.open()) yield chunk as Buffer;
}

/** `downgraded`: the 7-bit copy (DKIM fields first) to send instead of the stored bytes. */
type EnvelopePlan = { kind: "send"; envelope: OutboundEnvelope; downgraded: Buffer[] | null } | { kind: "refuse"; status: string; diagnostic: string };

/**
 * What to declare to this server. A missing 8BITMIME (RFC 6152) is handled by sending a 7-bit
 * copy: as is when the octets are 7-bit after all, else with its 8-bit MIME parts re-encoded
 * (queue/downgrade.ts); only what cannot be re-encoded losslessly fails, 5.6.3. A missing
 * SMTPUTF8 (RFC 6531) is fine when addresses and header are ASCII; otherwise the recipients fail
 * with the RFC 6531 §3.5 code saying why.
 */
async function planEnvelope(entry: QueuedMessage, client: SmtpClient, recipients: QueueRecipient[], lazy: Lazy): Promise<EnvelopePlan> {
  let body: OutboundEnvelope["body"] = null;
  let smtputf8 = entry.smtputf8;
  let downgraded: Buffer[] | null = null;
  let size = entry.size;
  const offers8bit = client.extensions.has("8BITMIME");
  if (entry.bodyType === "8BITMIME" && offers8bit) body = "8BITMIME";
  // A binary body (RFC 3030) is sent re-encoded to 7-bit, its binary parts in base64, since the
  // client sends with DATA. A body submitted without BODY= is scanned all the same when the
  // receiver lacks 8BITMIME: clients do send undeclared 8-bit text, and the receiver must not get it.
  else if (entry.bodyType === "BINARYMIME" || (!offers8bit && (await lazy.scan()).body8bit)) {
    const copy = await lazy.downgrade();
    const why = entry.bodyType === "BINARYMIME" ? "the message is binary (RFC 3030)" : "the receiving server does not accept 8BITMIME";
    if (copy.kind === "refused") return { kind: "refuse", status: "5.6.3", diagnostic: `${why} and the message cannot be made 7-bit losslessly: ${copy.reason}` };
    downgraded = copy.body;
    size = copy.size;
  }
  if (smtputf8 && !client.extensions.has("SMTPUTF8")) {
    const asciiAddresses = /^[\x00-\x7f]*$/.test(entry.mailFrom) && recipients.every((r) => /^[\x00-\x7f]*$/.test(r.address));
    // RFC 6531 §3.2: without the extension, no non-ASCII address may be sent.
    if (!asciiAddresses) return { kind: "refuse", status: "5.6.7", diagnostic: "non-ASCII address and the receiving server does not support SMTPUTF8 (RFC 6531)" };
    if ((await lazy.scan()).header8bit) return { kind: "refuse", status: "5.6.9", diagnostic: "UTF-8 header fields and the receiving server does not support SMTPUTF8 (RFC 6531)" };
    smtputf8 = false;
  }
  // RFC 1870 §6: a server that states a maximum size will refuse larger messages; do not try.
  const limit = Number((client.extensions.get("SIZE") ?? "").trim());
  if (limit > 0 && size > limit) return { kind: "refuse", status: "5.3.4", diagnostic: `message of ${size} octets is over the receiving server's limit of ${limit}` };
  return {
    kind: "send",
    downgraded,
    envelope: {
      mailFrom: entry.mailFrom,
      recipients: recipients.map((r) => ({ address: r.address, notify: r.notify, originalRecipient: r.originalRecipient })),
      envelopeId: entry.envelopeId,
      ret: entry.ret,
      body,
      smtputf8,
      size,
      // RFC 8689 §4.2.1: the requirement goes on with the message (the server offers it: checked).
      requireTls: entry.requireTls === true,
    },
  };
}

function classify(reply: SmtpReply): "delivered" | "deferred" | "failed" {
  if (reply.code < 400) return "delivered";
  return reply.code < 500 ? "deferred" : "failed";
}

/** RFC 5321 §4.2.5 / §6.1: the DATA reply applies to every recipient whose RCPT was accepted. */
function outcomesOf(recipients: QueueRecipient[], replies: Awaited<ReturnType<SmtpClient["send"]>>, remoteMta: string, remoteDsn: boolean): RecipientOutcome[] {
  return recipients.map((recipient, index) => {
    let reply = replies.mail;
    if (replies.mail.code < 300) {
      const rcpt = replies.recipients[index];
      reply = rcpt && rcpt.code >= 300 ? rcpt : (replies.data ?? rcpt ?? replies.mail);
    }
    const state = classify(reply);
    return { address: recipient.address, state, status: reply.enhanced ?? `${Math.floor(reply.code / 100)}.0.0`, diagnostic: replyText(reply), remoteMta, remoteDsn };
  });
}
