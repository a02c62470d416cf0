// Delivery status notifications (RFC 3464) for the sender of a queued message: "failed" for
// recipients that will never get it, "delayed" once for recipients still being retried, and
// "delivered"/"relayed" only for recipients that asked with NOTIFY=SUCCESS (RFC 3461 §4.1). The
// report is multipart/report (RFC 6522) with a human part, the machine-readable
// message/delivery-status part and the original header (RET=HDRS, the default) or the whole
// message (RET=FULL). Never sent for a message from the null sender (RFC 5321 §4.5.5), which is
// how a bounce can never cause another bounce.
//
// Internationalised mail (RFC 6533): when the message was sent with SMTPUTF8 or an address in the
// report is not ASCII, the report is message/global-delivery-status, a non-ASCII address is given
// with the "utf-8" address type (§3) instead of "rfc822", and the returned content is
// message/global (RET=FULL) or message/global-headers (§6.3), since the original's header may be
// UTF-8 (RFC 6532) and text/rfc822-headers or message/rfc822 would have to be ASCII.
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { encodeXtext } from "../smtp/protocol/index.js";
import type { QueuedMessage, QueueRecipient } from "../store/index.js";

export type DsnAction = "failed" | "delayed" | "delivered" | "relayed";

export interface DsnRecipient {
  recipient: QueueRecipient;
  action: DsnAction;
  status: string;
  /** The reply or our own explanation (RFC 3464 §2.3.6 Diagnostic-Code). */
  diagnostic: string | null;
  remoteMta: string | null;
}

/** Which recipients of an attempt get reported, by their NOTIFY (RFC 3461 §4.1). */
export function wantsNotice(recipient: QueueRecipient, action: DsnAction): boolean {
  const notify = recipient.notify;
  if (notify?.includes("NEVER")) return false;
  // Without NOTIFY, RFC 3461 §4.1 leaves it to us: failures and delays, as most MTAs do.
  if (notify === null) return action === "failed" || action === "delayed";
  if (action === "failed") return notify.includes("FAILURE");
  if (action === "delayed") return notify.includes("DELAY");
  return notify.includes("SUCCESS");
}

export interface DsnOptions {
  entry: QueuedMessage;
  recipients: DsnRecipient[];
  /** Our host name: Reporting-MTA and the From: domain. */
  reportingMta: string;
  now: Date;
  /** For delayed reports: until when we keep trying. */
  retryUntil: Date | null;
  /** The original message (prefix and blob), read for its header or whole for RET=FULL. */
  open: () => Readable;
}

const SUBJECTS: Record<DsnAction, string> = {
  failed: "Undelivered Mail Returned to Sender",
  delayed: "Delayed Mail (still being retried)",
  delivered: "Successful Mail Delivery Report",
  relayed: "Successful Mail Delivery Report",
};

const NON_ASCII = /[^\x00-\x7f]/;

/** Whether the report about this entry must be the RFC 6533 form (see the top of this file). */
export function needsGlobalDsn(entry: Pick<QueuedMessage, "smtputf8" | "mailFrom" | "recipients">): boolean {
  return entry.smtputf8 || NON_ASCII.test(entry.mailFrom) || entry.recipients.some((r) => NON_ASCII.test(r.address) || NON_ASCII.test(r.originalRecipient ?? ""));
}

/**
 * RFC 6533 §3 utf-8-addr-unitext: the address as UTF-8, with the characters that are not allowed
 * raw (controls, space, "\", "+", "=") written as EmbeddedUnicodeChar "\x{HEX}".
 */
export function utf8AddressUnitext(address: string): string {
  return address.replace(/[\x00-\x20\x7f\\+=\u0080-\u009f]/gu, (ch) => `\\x{${ch.codePointAt(0)!.toString(16).toUpperCase()}}`);
}

/** An address field's value: rfc822 for ASCII addresses, utf-8 (unitext) for the others. */
function typedAddress(address: string): string {
  return NON_ASCII.test(address) ? `utf-8; ${utf8AddressUnitext(address)}` : `rfc822; ${address}`;
}

/** The DSN message as a byte stream: small generated parts, then the original streamed in. */
export async function* composeDsn(options: DsnOptions): AsyncGenerator<Buffer> {
  const { entry, recipients, reportingMta, now } = options;
  const global = needsGlobalDsn(entry);
  const worst = recipients.find((r) => r.action === "failed") ?? recipients.find((r) => r.action === "delayed") ?? recipients[0];
  const action = worst?.action ?? "failed";
  const boundary = `=_dsn_${randomBytes(12).toString("hex")}`;
  const date = now.toUTCString().replace(/GMT$/, "+0000");
  // RFC 8689 §5 (non-delivery of REQUIRETLS messages): the report is queued without REQUIRETLS
  // (it would often fail the same way), so it returns the header only: the content the sender
  // wanted kept on authenticated TLS never travels in it.
  const full = entry.ret === "FULL" && entry.requireTls !== true;
  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${reportingMta}>`,
    `To: <${entry.mailFrom}>`,
    `Subject: ${SUBJECTS[action]}`,
    `Date: ${date}`,
    `Message-ID: <${randomBytes(12).toString("hex")}.dsn@${reportingMta}>`,
    // RFC 3834 §5: automatic responses must not be answered automatically.
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    "",
    "This is a MIME-encapsulated delivery status notification.",
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    ...humanText(recipients, reportingMta, options.retryUntil),
    "",
    `--${boundary}`,
    `Content-Type: ${global ? "message/global-delivery-status" : "message/delivery-status"}`,
    ...(global ? ["Content-Transfer-Encoding: 8bit"] : []),
    "",
    // RFC 3464 §2.2: per-message fields.
    `Reporting-MTA: dns; ${reportingMta}`,
    ...(entry.envelopeId !== null ? [`Original-Envelope-Id: ${encodeXtext(entry.envelopeId)}`] : []),
    `Arrival-Date: ${entry.createdAt.toUTCString().replace(/GMT$/, "+0000")}`,
    "",
    ...recipients.flatMap((r) => recipientFields(r, date, options.retryUntil, global)),
    `--${boundary}`,
    // RFC 6522 §3 / RFC 3462: the third part is the returned content.
    `Content-Type: ${returnedContentType(full, global)}`,
    ...(global ? ["Content-Transfer-Encoding: 8bit"] : []),
    "",
    "",
  ].join("\r\n");
  yield Buffer.from(head, "utf8");
  if (full) {
    let last: Buffer | null = null;
    for await (const chunk of options.open()) {
      last = chunk as Buffer;
      yield last;
    }
    if (last !== null && !last.subarray(-2).equals(Buffer.from("\r\n"))) yield Buffer.from("\r\n");
  } else {
    yield await originalHeader(options.open());
  }
  yield Buffer.from(`\r\n--${boundary}--\r\n`);
}

/** RFC 6522 §3 / RFC 3462, and RFC 6533 §6.3 for internationalised messages. */
function returnedContentType(full: boolean, global: boolean): string {
  if (global) return full ? "message/global" : "message/global-headers";
  return full ? "message/rfc822" : "text/rfc822-headers";
}

function humanText(recipients: DsnRecipient[], reportingMta: string, retryUntil: Date | null): string[] {
  const lines = [`This is the mail system at ${reportingMta}.`, ""];
  const failed = recipients.filter((r) => r.action === "failed");
  const delayed = recipients.filter((r) => r.action === "delayed");
  const delivered = recipients.filter((r) => r.action === "delivered" || r.action === "relayed");
  if (failed.length > 0) {
    lines.push("Your message could not be delivered to these recipients:", "");
    for (const r of failed) lines.push(`  <${r.recipient.address}>: ${r.diagnostic ?? r.status}`);
    lines.push("");
  }
  if (delayed.length > 0) {
    lines.push("Your message has not been delivered yet to these recipients. No action is needed;", `delivery will be tried until ${retryUntil?.toUTCString() ?? "the message expires"}:`, "");
    for (const r of delayed) lines.push(`  <${r.recipient.address}>: ${r.diagnostic ?? r.status}`);
    lines.push("");
  }
  if (delivered.length > 0) {
    lines.push("Your message was delivered (or handed on) to these recipients:", "");
    for (const r of delivered) lines.push(`  <${r.recipient.address}>`);
    lines.push("");
  }
  return lines;
}

/** RFC 3464 §2.3: per-recipient fields, each block ended by an empty line. */
function recipientFields(r: DsnRecipient, date: string, retryUntil: Date | null, global: boolean): string[] {
  const fields: string[] = [];
  const original = r.recipient.originalRecipient;
  if (original !== null) {
    const semicolon = original.indexOf(";");
    const type = original.slice(0, semicolon);
    const address = original.slice(semicolon + 1);
    // RFC 6533 §3: in the global form a utf-8 ORCPT is given as unitext; elsewhere as xtext.
    const value = global && type.toLowerCase() === "utf-8" ? utf8AddressUnitext(address) : encodeXtext(address);
    fields.push(`Original-Recipient: ${type}; ${value}`);
  }
  fields.push(`Final-Recipient: ${typedAddress(r.recipient.address)}`, `Action: ${r.action}`, `Status: ${r.status}`);
  if (r.remoteMta !== null) fields.push(`Remote-MTA: dns; ${r.remoteMta}`);
  if (r.diagnostic !== null) {
    // A reply (starting with its code) is an smtp diagnostic; anything else is our own text.
    const kind = /^[245]\d\d\b/.test(r.diagnostic) ? "smtp" : "x-local";
    fields.push(`Diagnostic-Code: ${kind}; ${r.diagnostic.replace(/[\r\n]+/g, " ")}`);
  }
  fields.push(`Last-Attempt-Date: ${date}`);
  if (r.action === "delayed" && retryUntil !== null) fields.push(`Will-Retry-Until: ${retryUntil.toUTCString().replace(/GMT$/, "+0000")}`);
  fields.push("");
  return fields;
}

/** The header section of the original, up to (not including) the empty line; at most 64 KiB. */
async function originalHeader(stream: Readable): Promise<Buffer> {
  const limit = 64 * 1024;
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      parts.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      const sofar = Buffer.concat(parts);
      const end = sofar.indexOf("\r\n\r\n");
      if (end >= 0) return sofar.subarray(0, end + 2);
      if (size > limit) return Buffer.concat([sofar.subarray(0, limit), Buffer.from("\r\n")]);
    }
  } finally {
    stream.destroy();
  }
  const all = Buffer.concat(parts);
  return all.length > 0 && !all.subarray(-2).equals(Buffer.from("\r\n")) ? Buffer.concat([all, Buffer.from("\r\n")]) : all;
}
