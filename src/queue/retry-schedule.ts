// When a deferred message is tried again, and when it gives up. Delays follow the configured
// schedule (minutes first, then hours, like Postfix), the last delay repeating; the final attempt
// is made at the end of the lifetime, after which deferred recipients fail (RFC 5321 §4.5.4.1:
// give up after 4-5 days). A delay warning falls due once, after `delayWarningMs`.

export interface RetryPolicy {
  /** Delays in ms between attempts: the first after the first failure, and so on; the last repeats. */
  scheduleMs: readonly number[];
  maxLifetimeMs: number;
  /** 0 disables delay warnings. */
  delayWarningMs: number;
}

/** The delay after the `attempts`-th attempt (1 = after the first). */
export function retryDelay(policy: RetryPolicy, attempts: number): number {
  const index = Math.min(Math.max(attempts, 1), policy.scheduleMs.length) - 1;
  return policy.scheduleMs[index] ?? 60_000;
}

/** True once the entry is as old as its lifetime: deferred recipients then fail. */
export function isExpired(policy: RetryPolicy, createdAt: Date, now: Date): boolean {
  return now.getTime() - createdAt.getTime() >= policy.maxLifetimeMs;
}

/** True when a still-deferred entry that has not warned yet should warn now. */
export function isDelayWarningDue(policy: RetryPolicy, createdAt: Date, now: Date, alreadyWarned: boolean): boolean {
  return policy.delayWarningMs > 0 && !alreadyWarned && now.getTime() - createdAt.getTime() >= policy.delayWarningMs;
}

/**
 * The next attempt after a deferral: now + the scheduled delay, but never past the end of the
 * lifetime (so expiry is noticed on time) nor past the delay-warning moment while it is pending.
 */
export function nextAttemptAt(policy: RetryPolicy, createdAt: Date, attempts: number, now: Date, warned: boolean): Date {
  let next = now.getTime() + retryDelay(policy, attempts);
  const expiry = createdAt.getTime() + policy.maxLifetimeMs;
  next = Math.min(next, Math.max(expiry, now.getTime()));
  const warning = createdAt.getTime() + policy.delayWarningMs;
  if (policy.delayWarningMs > 0 && !warned && warning > now.getTime()) next = Math.min(next, warning);
  return new Date(next);
}
