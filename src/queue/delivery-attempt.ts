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
import { scanEightBit, type EightBitScan } from "./message-scan.js";
import { SmtpClient, SmtpClientError, replyText, type OutboundEnvelope } from "./smtp-client.js";

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
  log: Logger;
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
}

/** The text kept as the recipient's last result: what `mailroom queue show` and expiry DSNs read. */
export function resultText(outcome: RecipientOutcome): string {
  return outcome.remoteMta === null ? outcome.diagnostic : `${outcome.remoteMta} said: ${outcome.diagnostic}`;
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
  const scan = lazyScan(deps.open);
  const results = await Promise.all([...groups].map(([domain, recipients]) => deliverGroup(entry, domain, recipients, deps, scan)));
  return results.flat();
}

function lazyScan(open: () => Readable): () => Promise<EightBitScan> {
  let scan: Promise<EightBitScan> | null = null;
  return () => (scan ??= scanEightBit(open()));
}

function everyone(recipients: QueueRecipient[], state: RecipientOutcome["state"], status: string, diagnostic: string, remoteMta: string | null = null): RecipientOutcome[] {
  return recipients.map((r) => ({ address: r.address, state, status, diagnostic, remoteMta, remoteDsn: false }));
}

async function deliverGroup(entry: QueuedMessage, domain: string, recipients: QueueRecipient[], deps: AttemptDependencies, scan: () => Promise<EightBitScan>): Promise<RecipientOutcome[]> {
  const destination = await resolveDestination(domain, deps.routing);
  if (destination.kind === "unreachable") return everyone(recipients, destination.permanent ? "failed" : "deferred", destination.status, destination.reason);
  let last: { permanent: boolean; status: string; diagnostic: string; remoteMta: string | null } = {
    permanent: false,
    status: "4.4.1",
    diagnostic: `no host of ${domain} could be reached`,
    remoteMta: null,
  };
  let anyTemporary = false;
  for (const host of destination.hosts) {
    const lookup = await resolveHostAddresses(host.name, deps.routing.resolver);
    if (lookup.kind === "none") {
      last = { permanent: lookup.permanent, status: lookup.permanent ? "5.4.4" : "4.4.3", diagnostic: lookup.reason, remoteMta: null };
      anyTemporary ||= !lookup.permanent;
      continue;
    }
    for (const address of lookup.addresses) {
      const outcome = await deliverToHost(entry, host, address, recipients, deps, scan);
      if (outcome.kind === "done") return outcome.outcomes;
      last = outcome;
      anyTemporary ||= !outcome.permanent;
    }
  }
  // Every host failed before a transaction. Permanent only when no host failed temporarily.
  const permanent = last.permanent && !anyTemporary;
  return everyone(recipients, permanent ? "failed" : "deferred", permanent ? last.status : last.status.replace(/^5/, "4"), last.diagnostic, last.remoteMta);
}

type HostOutcome = { kind: "done"; outcomes: RecipientOutcome[] } | { kind: "next"; permanent: boolean; status: string; diagnostic: string; remoteMta: string | null };

async function deliverToHost(
  entry: QueuedMessage,
  host: DestinationHost,
  address: string,
  recipients: QueueRecipient[],
  deps: AttemptDependencies,
  scan: () => Promise<EightBitScan>,
): Promise<HostOutcome> {
  const release = await deps.limiter.acquire(`${host.name}:${host.port}`);
  const remoteMta = host.name;
  let client: SmtpClient | null = null;
  try {
    client = await SmtpClient.open({
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
    });
    const plan = await planEnvelope(entry, client, recipients, scan);
    if (plan.kind === "refuse") {
      return { kind: "done", outcomes: everyone(recipients, "failed", plan.status, plan.diagnostic, remoteMta) };
    }
    const replies = await client.send(plan.envelope, bodyOf(deps));
    const remoteDsn = client.extensions.has("DSN");
    await client.quit();
    return { kind: "done", outcomes: outcomesOf(recipients, replies, remoteMta, remoteDsn) };
  } catch (error) {
    client?.close();
    const reply = error instanceof SmtpClientError ? error.reply : null;
    const permanent = error instanceof SmtpClientError && !error.temporary;
    const diagnostic = reply ? replyText(reply) : error instanceof Error ? error.message : String(error);
    deps.log.info("queue.host_failed", { queueId: entry.id, host: host.name, address, port: host.port, error: diagnostic });
    return { kind: "next", permanent, status: reply?.enhanced ?? (permanent ? "5.0.0" : "4.4.1"), diagnostic, remoteMta: reply ? remoteMta : null };
  } finally {
    release();
  }
}

async function* bodyOf(deps: AttemptDependencies): AsyncGenerator<Buffer> {
  if (deps.signatures.length > 0) yield deps.signatures;
  for await (const chunk of deps.open()) yield chunk as Buffer;
}

type EnvelopePlan = { kind: "send"; envelope: OutboundEnvelope } | { kind: "refuse"; status: string; diagnostic: string };

/**
 * What to declare to this server. A missing 8BITMIME (RFC 6152) or SMTPUTF8 (RFC 6531) is a
 * lossless downgrade when the message turns out to be 7-bit where it matters; otherwise the
 * recipients fail with the RFC 3463 / RFC 6531 code saying why. MIME re-encoding (8-bit parts to
 * quoted-printable) is not done.
 */
async function planEnvelope(entry: QueuedMessage, client: SmtpClient, recipients: QueueRecipient[], scan: () => Promise<EightBitScan>): Promise<EnvelopePlan> {
  let body: OutboundEnvelope["body"] = null;
  let smtputf8 = entry.smtputf8;
  if (entry.bodyType !== "7BIT") {
    if (entry.bodyType === "8BITMIME" && client.extensions.has("8BITMIME")) body = "8BITMIME";
    else if (entry.bodyType === "BINARYMIME" && client.extensions.has("BINARYMIME") && client.extensions.has("8BITMIME")) body = "8BITMIME";
    else if ((await scan()).body8bit) {
      return { kind: "refuse", status: "5.6.3", diagnostic: "the message has 8-bit content and the receiving server does not accept 8BITMIME (conversion not supported)" };
    }
  }
  if (smtputf8 && !client.extensions.has("SMTPUTF8")) {
    const asciiAddresses = /^[\x00-\x7f]*$/.test(entry.mailFrom) && recipients.every((r) => /^[\x00-\x7f]*$/.test(r.address));
    // RFC 6531 §3.2: without the extension, no non-ASCII address may be sent.
    if (!asciiAddresses) return { kind: "refuse", status: "5.6.7", diagnostic: "non-ASCII address and the receiving server does not support SMTPUTF8 (RFC 6531)" };
    if ((await scan()).header8bit) return { kind: "refuse", status: "5.6.9", diagnostic: "UTF-8 header fields and the receiving server does not support SMTPUTF8 (RFC 6531)" };
    smtputf8 = false;
  }
  // RFC 1870 §6: a server that states a maximum size will refuse larger messages; do not try.
  const limit = Number((client.extensions.get("SIZE") ?? "").trim());
  if (limit > 0 && entry.size > limit) return { kind: "refuse", status: "5.3.4", diagnostic: `message of ${entry.size} octets is over the receiving server's limit of ${limit}` };
  return {
    kind: "send",
    envelope: {
      mailFrom: entry.mailFrom,
      recipients: recipients.map((r) => ({ address: r.address, notify: r.notify, originalRecipient: r.originalRecipient })),
      envelopeId: entry.envelopeId,
      ret: entry.ret,
      body,
      smtputf8,
      size: entry.size,
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
