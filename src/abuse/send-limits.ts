// Outbound abuse limits for authenticated senders: a stolen password must not turn submission
// into a spam cannon that gets the domain blocklisted. Per account and per sender domain:
// messages per hour, recipients per day, and the share of recipients that remote servers refuse
// (sending to harvested or made-up addresses is what spam runs look like). Over a limit the
// client gets 451 4.7.1 with a clear text; each refusal is logged and counted, and an account
// that keeps hitting limits can be suspended automatically (the caller disables it and tells the
// postmaster).
//
// Windows slide in fixed buckets (minutes for the hour, hours for the day), so the memory per
// active sender is a few small arrays whatever the traffic. Counted in this process: a restart
// starts the counts again, which a spam run does not get to choose.
//
// Several nodes on one PostgreSQL database: createSharedSendLimiter keeps the same windows as
// counters in the database (store/node-state-store.ts SharedCounterStore), so an account cannot
// send N times its limit by spreading its connections over N nodes (docs/scale-out.md).

export interface SendLimitSettings {
  /** 0 turns a limit off. */
  messagesPerHour: number;
  /** Recipients of one message (a transaction), at most. */
  recipientsPerMessage: number;
  recipientsPerDay: number;
  domainMessagesPerHour: number;
  /** Refused share of remote recipients in a day, 0 to 1; 0 turns it off. */
  maxFailedRatio: number;
  /** Remote recipients in the day before the failed ratio is judged. */
  failedRatioMinRecipients: number;
  /** Limit refusals in a day after which the account is suspended; 0 never suspends. */
  suspendAfterRefusals: number;
}

export type SendLimitRefusal = {
  readonly limit: "messages_per_hour" | "recipients_per_message" | "recipients_per_day" | "domain_messages_per_hour" | "failed_ratio";
  readonly text: string;
  /** The account passed suspend_after_refusals with this refusal (reported once). */
  readonly suspend: boolean;
};

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Counts in `slots` buckets of `width` ms; the sum is over the last slots*width ms. */
export class SlidingCounter {
  private readonly counts: Float64Array;
  private readonly starts: Float64Array;

  constructor(
    private readonly slots: number,
    private readonly width: number,
  ) {
    this.counts = new Float64Array(slots);
    this.starts = new Float64Array(slots).fill(-1);
  }

  add(now: number, amount: number): void {
    const bucket = Math.floor(now / this.width);
    const slot = bucket % this.slots;
    if (this.starts[slot] !== bucket) {
      this.starts[slot] = bucket;
      this.counts[slot] = 0;
    }
    this.counts[slot]! += amount;
  }

  sum(now: number): number {
    const current = Math.floor(now / this.width);
    let total = 0;
    for (let slot = 0; slot < this.slots; slot++) {
      if (this.starts[slot]! > current - this.slots) total += this.counts[slot]!;
    }
    return total;
  }

  /** Nothing counted within the window: the entry can be dropped. */
  idle(now: number): boolean {
    return this.sum(now) === 0;
  }
}

interface SenderCounters {
  messages: SlidingCounter;
  recipients: SlidingCounter;
  remote: SlidingCounter;
  failed: SlidingCounter;
  refusals: SlidingCounter;
  suspended: boolean;
}

export interface SendLimiter {
  /** At RCPT: may this account add one more recipient today, `pending` already in the envelope? Null when it may. */
  checkRecipient(account: string, pending: number, now?: Date): SendLimitRefusal | null;
  /** At the end of DATA, before the message is accepted: may it send one more message now? */
  checkMessage(account: string, now?: Date): SendLimitRefusal | null;
  /** The message was accepted with this many recipients (remote ones count for the failed ratio). */
  recordMessage(account: string, recipients: number, remoteRecipients: number, now?: Date): void;
  /** A remote server refused one of the account's recipients (a 5xx, from the outbound queue). */
  recordFailedRecipient(account: string, now?: Date): void;
  /** Senders tracked now (for tests and bounded memory). */
  readonly tracked: number;
}

/** A limiter whose answers may come later (the shared one asks the database). */
export interface SendLimiterLike {
  checkRecipient(account: string, pending: number, now?: Date): SendLimitRefusal | null | Promise<SendLimitRefusal | null>;
  checkMessage(account: string, now?: Date): SendLimitRefusal | null | Promise<SendLimitRefusal | null>;
  recordMessage(account: string, recipients: number, remoteRecipients: number, now?: Date): void | Promise<void>;
  recordFailedRecipient(account: string, now?: Date): void | Promise<void>;
}

const domainOf = (address: string) => address.slice(address.lastIndexOf("@") + 1).toLowerCase();

export function createSendLimiter(settings: SendLimitSettings): SendLimiter {
  const senders = new Map<string, SenderCounters>();
  const domains = new Map<string, SlidingCounter>();
  let lastSweep = 0;

  const counters = (account: string): SenderCounters => {
    const key = account.toLowerCase();
    let found = senders.get(key);
    if (!found) {
      found = {
        messages: new SlidingCounter(60, MINUTE),
        recipients: new SlidingCounter(24, HOUR),
        remote: new SlidingCounter(24, HOUR),
        failed: new SlidingCounter(24, HOUR),
        refusals: new SlidingCounter(24, HOUR),
        suspended: false,
      };
      senders.set(key, found);
    }
    return found;
  };
  const domainCounter = (account: string): SlidingCounter => {
    const key = domainOf(account);
    let found = domains.get(key);
    if (!found) domains.set(key, (found = new SlidingCounter(60, MINUTE)));
    return found;
  };
  /** Forget senders idle for a day, at most once an hour: memory follows active senders only. */
  const sweep = (now: number) => {
    if (now - lastSweep < HOUR) return;
    lastSweep = now;
    for (const [key, c] of senders) if (c.recipients.idle(now) && c.refusals.idle(now) && c.messages.idle(now)) senders.delete(key);
    for (const [key, c] of domains) if (c.idle(now)) domains.delete(key);
  };
  const refuse = (c: SenderCounters, now: number, limit: SendLimitRefusal["limit"], text: string): SendLimitRefusal => {
    c.refusals.add(now, 1);
    let suspend = false;
    if (settings.suspendAfterRefusals > 0 && !c.suspended && c.refusals.sum(now) >= settings.suspendAfterRefusals) {
      c.suspended = true;
      suspend = true;
    }
    return { limit, text, suspend };
  };

  return {
    checkRecipient(account, pending, at = new Date()) {
      const now = at.getTime();
      const c = counters(account);
      // Not counted toward suspension: one long recipient list would refuse every extra address.
      if (settings.recipientsPerMessage > 0 && pending + 1 > settings.recipientsPerMessage) {
        return { limit: "recipients_per_message", text: `At most ${settings.recipientsPerMessage} recipients per message for this account`, suspend: false };
      }
      if (settings.recipientsPerDay > 0 && c.recipients.sum(now) + pending + 1 > settings.recipientsPerDay) {
        return refuse(c, now, "recipients_per_day", `Daily recipient limit (${settings.recipientsPerDay}) reached for this account, try again later`);
      }
      return null;
    },
    checkMessage(account, at = new Date()) {
      const now = at.getTime();
      sweep(now);
      const c = counters(account);
      if (settings.messagesPerHour > 0 && c.messages.sum(now) + 1 > settings.messagesPerHour) {
        return refuse(c, now, "messages_per_hour", `Hourly message limit (${settings.messagesPerHour}) reached for this account, try again later`);
      }
      if (settings.domainMessagesPerHour > 0 && domainCounter(account).sum(now) + 1 > settings.domainMessagesPerHour) {
        return refuse(c, now, "domain_messages_per_hour", `Hourly message limit of the sender's domain (${settings.domainMessagesPerHour}) reached, try again later`);
      }
      const remote = c.remote.sum(now);
      if (settings.maxFailedRatio > 0 && remote >= settings.failedRatioMinRecipients && c.failed.sum(now) / remote > settings.maxFailedRatio) {
        return refuse(c, now, "failed_ratio", "Too many of this account's recipients were refused by their servers today, sending paused");
      }
      return null;
    },
    recordMessage(account, recipients, remoteRecipients, at = new Date()) {
      const now = at.getTime();
      const c = counters(account);
      c.messages.add(now, 1);
      c.recipients.add(now, recipients);
      c.remote.add(now, remoteRecipients);
      domainCounter(account).add(now, 1);
    },
    recordFailedRecipient(account, at = new Date()) {
      counters(account).failed.add(at.getTime(), 1);
    },
    get tracked() {
      return senders.size;
    },
  };
}

/** One windowed counter kept by the shared store (structurally store/node-state-store.ts CounterWindow). */
export interface SharedCounterWindow {
  key: string;
  bucketMs: number;
  buckets: number;
}

/** What the shared limiter needs of the store (SharedCounterStore, implemented by store/postgresql/node-state.ts). */
export interface SharedCounterBackend {
  addCounters(entries: readonly (SharedCounterWindow & { amount: number })[]): Promise<void>;
  sumCounters(windows: readonly SharedCounterWindow[]): Promise<number[]>;
  takeCounter(window: SharedCounterWindow, limit: number): Promise<boolean>;
}

const DAY = 24 * HOUR;

/**
 * The limits of createSendLimiter counted in the shared store: the same windows (messages and the
 * domain's messages over 60 one-minute buckets, recipients, remote recipients, refused recipients
 * and limit refusals over 24 one-hour buckets), in the database's clock, summed over every node.
 * A suspension is claimed once per account and UTC day, so two nodes crossing the threshold
 * together suspend it once. `now` arguments are ignored: the buckets follow the database's clock.
 */
export function createSharedSendLimiter(settings: SendLimitSettings, store: SharedCounterBackend): SendLimiterLike {
  const windows = (account: string) => {
    const key = account.toLowerCase();
    return {
      messages: { key: `send:msg:${key}`, bucketMs: MINUTE, buckets: 60 },
      recipients: { key: `send:rcpt:${key}`, bucketMs: HOUR, buckets: 24 },
      remote: { key: `send:remote:${key}`, bucketMs: HOUR, buckets: 24 },
      failed: { key: `send:failed:${key}`, bucketMs: HOUR, buckets: 24 },
      refusals: { key: `send:refused:${key}`, bucketMs: HOUR, buckets: 24 },
      suspended: { key: `send:suspended:${key}`, bucketMs: DAY, buckets: 1 },
      domain: { key: `send:domain:${domainOf(account)}`, bucketMs: MINUTE, buckets: 60 },
    };
  };
  const refuse = async (account: string, limit: SendLimitRefusal["limit"], text: string): Promise<SendLimitRefusal> => {
    const w = windows(account);
    await store.addCounters([{ ...w.refusals, amount: 1 }]);
    let suspend = false;
    if (settings.suspendAfterRefusals > 0) {
      const [refusals] = await store.sumCounters([w.refusals]);
      if ((refusals ?? 0) >= settings.suspendAfterRefusals) suspend = await store.takeCounter(w.suspended, 1);
    }
    return { limit, text, suspend };
  };
  return {
    async checkRecipient(account, pending) {
      if (settings.recipientsPerMessage > 0 && pending + 1 > settings.recipientsPerMessage) {
        return { limit: "recipients_per_message", text: `At most ${settings.recipientsPerMessage} recipients per message for this account`, suspend: false };
      }
      if (settings.recipientsPerDay > 0) {
        const [sent] = await store.sumCounters([windows(account).recipients]);
        if ((sent ?? 0) + pending + 1 > settings.recipientsPerDay) return refuse(account, "recipients_per_day", `Daily recipient limit (${settings.recipientsPerDay}) reached for this account, try again later`);
      }
      return null;
    },
    async checkMessage(account) {
      const w = windows(account);
      const [messages = 0, domain = 0, remote = 0, failed = 0] = await store.sumCounters([w.messages, w.domain, w.remote, w.failed]);
      if (settings.messagesPerHour > 0 && messages + 1 > settings.messagesPerHour) {
        return refuse(account, "messages_per_hour", `Hourly message limit (${settings.messagesPerHour}) reached for this account, try again later`);
      }
      if (settings.domainMessagesPerHour > 0 && domain + 1 > settings.domainMessagesPerHour) {
        return refuse(account, "domain_messages_per_hour", `Hourly message limit of the sender's domain (${settings.domainMessagesPerHour}) reached, try again later`);
      }
      if (settings.maxFailedRatio > 0 && remote >= settings.failedRatioMinRecipients && remote > 0 && failed / remote > settings.maxFailedRatio) {
        return refuse(account, "failed_ratio", "Too many of this account's recipients were refused by their servers today, sending paused");
      }
      return null;
    },
    async recordMessage(account, recipients, remoteRecipients) {
      const w = windows(account);
      await store.addCounters([
        { ...w.messages, amount: 1 },
        { ...w.recipients, amount: recipients },
        { ...w.remote, amount: remoteRecipients },
        { ...w.domain, amount: 1 },
      ]);
    },
    async recordFailedRecipient(account) {
      await store.addCounters([{ ...windows(account).failed, amount: 1 }]);
    },
  };
}
