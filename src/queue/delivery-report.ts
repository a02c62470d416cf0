// "Delivered" DSNs for recipients we delivered to ourselves. RFC 3461 §4.1: a recipient given
// NOTIFY=SUCCESS asks for a report once the message reaches its mailbox. Mail to remote
// recipients gets that report from the outbound worker (action "relayed" or "delivered"); mail
// that submission delivered straight into a local mailbox never enters the queue, so this
// module writes its report in the same RFC 3464 form, through the same bounce sink.
import type { QueuedMessage, QueueRecipient, StagedMessage } from "../store/index.js";
import type { BounceSink } from "./bounce-delivery.js";
import { composeDsn, wantsNotice } from "./bounce.js";

export interface LocallyDelivered {
  /** Reverse-path of the submission ("" never asks for reports). */
  mailFrom: string;
  submittedBy: string | null;
  envelopeId: string | null;
  ret: "FULL" | "HDRS" | null;
  /** The local recipients with their DSN parameters, as the queue would store them. */
  recipients: { address: string; notify: QueueRecipient["notify"]; originalRecipient: string | null }[];
  message: StagedMessage;
  arrivedAt: Date;
}

export interface DeliveryReporter {
  /** Sends one "delivered" report covering the recipients that asked for it; resolves when durable. */
  reportDelivered(delivery: LocallyDelivered): Promise<void>;
  /**
   * Sends one "failed" report for local recipients that could not take a message the others got
   * (a full mailbox after DATA: smtp/inbound/local-delivery.ts), unless they said NOTIFY=NEVER.
   */
  reportFailed(delivery: LocallyDelivered, failure: { status: string; diagnostic: string }): Promise<void>;
}

export function createDeliveryReporter(options: { bounces: BounceSink; reportingMta: string; clock?: () => Date }): DeliveryReporter {
  const clock = options.clock ?? (() => new Date());
  const report = async (delivery: LocallyDelivered, action: "delivered" | "failed", status: string, diagnostic: string | null): Promise<void> => {
      const recipients: QueueRecipient[] = delivery.recipients.map((r) => ({ ...r, state: action === "failed" ? "failed" : "delivered", attempts: 1, lastResult: null }));
      const asked = recipients.filter((r) => wantsNotice(r, action));
      if (asked.length === 0 || delivery.mailFrom === "") return;
      // The report machinery speaks about queue entries; this one never had a row of its own.
      const entry: QueuedMessage = {
        id: 0,
        mailFrom: delivery.mailFrom,
        submittedBy: delivery.submittedBy,
        blobId: delivery.message.blobId,
        size: delivery.message.size,
        envelopeId: delivery.envelopeId,
        ret: delivery.ret,
        bodyType: "8BITMIME",
        smtputf8: false,
        createdAt: delivery.arrivedAt,
        nextAttemptAt: delivery.arrivedAt,
        leasedUntil: null,
        delayWarned: false,
        recipients,
      };
      const dsn = composeDsn({
        entry,
        recipients: asked.map((recipient) => ({ recipient, action, status, diagnostic, remoteMta: null })),
        reportingMta: options.reportingMta,
        now: clock(),
        retryUntil: null,
        open: () => delivery.message.open(),
      });
      await options.bounces.send(entry, dsn);
  };
  return {
    reportDelivered: (delivery) => report(delivery, "delivered", "2.0.0", null),
    reportFailed: (delivery, failure) => report(delivery, "failed", failure.status, failure.diagnostic),
  };
}
