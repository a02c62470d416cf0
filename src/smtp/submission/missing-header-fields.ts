// RFC 6409 §8.3 and §8.4: a Message Submission Agent MAY add a missing Date and MUST (for
// Message-ID: SHOULD) supply what the client left out, and many clients (scripts, curl, msmtp
// without a generator, small devices) rely on it. The fields are added to the message itself
// rather than to a trace prefix: the local copy's stored envelope (IMAP ENVELOPE, SEARCH) is
// parsed from the blob, and the outbound worker signs DKIM over the stored bytes later, so the
// added fields are covered by the signature (RFC 6376 §5.4: sign Date and Message-ID).
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import type { MailStore, StagedMessage } from "../../store/index.js";
import { formatDateTime } from "../../mail/trace-headers.js";

/** The fields the message lacks, as header lines ("" when it lacks none). */
export function missingHeaderFields(staged: Pick<StagedMessage, "parsed">, hostname: string, now: Date): string {
  const envelope = staged.parsed.envelope;
  let lines = "";
  if (envelope.date === null) lines += `Date: ${formatDateTime(now)}\r\n`;
  // §8.3: the id is unique on the submission host name (RFC 5322 §3.6.4 id-left "@" id-right).
  if (envelope.messageId === null) lines += `Message-ID: <${now.getTime().toString(36)}.${randomBytes(9).toString("hex")}@${hostname}>\r\n`;
  return lines;
}

/**
 * The staged message with the missing fields in front of its header, staged anew (and the
 * original released); the same message when nothing is missing.
 */
export async function completeHeader(store: Pick<MailStore, "stageMessage">, staged: StagedMessage, hostname: string, now: Date): Promise<StagedMessage> {
  const lines = missingHeaderFields(staged, hostname, now);
  if (lines === "") return staged;
  async function* withFields(): AsyncGenerator<Buffer> {
    yield Buffer.from(lines, "latin1");
    for await (const chunk of staged.open()) yield chunk as Buffer;
  }
  const completed = await store.stageMessage(Readable.from(withFields()));
  staged.discard();
  return completed;
}
