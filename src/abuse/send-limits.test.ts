// Outbound abuse limits: sliding windows, recipients counted with the envelope in progress, the
// sender domain's share, the refused-recipient ratio, suspension reported once, bounded memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSendLimiter, type SendLimitSettings } from "./send-limits.js";

const OFF: SendLimitSettings = { messagesPerHour: 0, recipientsPerMessage: 0, recipientsPerDay: 0, domainMessagesPerHour: 0, maxFailedRatio: 0, failedRatioMinRecipients: 10, suspendAfterRefusals: 0 };
const at = (minutes: number) => new Date(Date.UTC(2026, 11, 1, 0, 0, 0) + minutes * 60_000);

test("messages per hour slide: the oldest minute leaves the window after an hour", () => {
  const limiter = createSendLimiter({ ...OFF, messagesPerHour: 3 });
  for (const minute of [0, 10, 20]) {
    assert.equal(limiter.checkMessage("a@x.test", at(minute)), null);
    limiter.recordMessage("a@x.test", 1, 1, at(minute));
  }
  const refused = limiter.checkMessage("A@X.test", at(30));
  assert.equal(refused?.limit, "messages_per_hour", "addresses compare case-insensitively");
  assert.match(refused!.text, /Hourly message limit \(3\)/);
  assert.equal(limiter.checkMessage("a@x.test", at(59))?.limit, "messages_per_hour", "still full at 59 minutes");
  assert.equal(limiter.checkMessage("a@x.test", at(61)), null, "minute 0 left the window");
  assert.equal(limiter.checkMessage("b@x.test", at(30)), null, "other accounts have their own count");
});

test("recipients per message: the envelope in progress may not pass the limit", () => {
  const limiter = createSendLimiter({ ...OFF, recipientsPerMessage: 3 });
  assert.equal(limiter.checkRecipient("a@x.test", 2, at(0)), null);
  assert.equal(limiter.checkRecipient("a@x.test", 3, at(0))?.limit, "recipients_per_message");
});

test("recipients per day count the envelope in progress", () => {
  const limiter = createSendLimiter({ ...OFF, recipientsPerDay: 5 });
  limiter.recordMessage("a@x.test", 3, 0, at(0));
  assert.equal(limiter.checkRecipient("a@x.test", 0, at(1)), null);
  assert.equal(limiter.checkRecipient("a@x.test", 1, at(1)), null);
  assert.equal(limiter.checkRecipient("a@x.test", 2, at(1))?.limit, "recipients_per_day", "3 sent + 2 in this envelope + 1 more is 6");
  assert.equal(limiter.checkRecipient("a@x.test", 2, at(25 * 60)), null, "a day later the count is gone");
});

test("the sender domain's hourly share and the refused-recipient ratio", () => {
  const limiter = createSendLimiter({ ...OFF, domainMessagesPerHour: 2, maxFailedRatio: 0.3, failedRatioMinRecipients: 10 });
  limiter.recordMessage("a@x.test", 1, 1, at(0));
  limiter.recordMessage("b@x.test", 1, 1, at(0));
  assert.equal(limiter.checkMessage("c@x.test", at(1))?.limit, "domain_messages_per_hour");
  assert.equal(limiter.checkMessage("c@y.test", at(1)), null);

  const ratio = createSendLimiter({ ...OFF, maxFailedRatio: 0.3, failedRatioMinRecipients: 10 });
  ratio.recordMessage("s@x.test", 8, 8, at(0));
  for (let i = 0; i < 5; i++) ratio.recordFailedRecipient("s@x.test", at(1));
  assert.equal(ratio.checkMessage("s@x.test", at(2)), null, "8 remote recipients: too few to judge");
  ratio.recordMessage("s@x.test", 4, 4, at(3));
  assert.equal(ratio.checkMessage("s@x.test", at(4))?.limit, "failed_ratio", "5 of 12 refused is over 0.3");
});

test("suspension is reported once, when the refusals in a day reach the setting", () => {
  const limiter = createSendLimiter({ ...OFF, messagesPerHour: 1, suspendAfterRefusals: 3 });
  limiter.recordMessage("a@x.test", 1, 1, at(0));
  const refusals = [1, 2, 3, 4].map((m) => limiter.checkMessage("a@x.test", at(m))!);
  assert.deepEqual(refusals.map((r) => r.suspend), [false, false, true, false]);
});

test("memory follows active senders: idle ones are forgotten", () => {
  const limiter = createSendLimiter({ ...OFF, messagesPerHour: 10 });
  for (let i = 0; i < 1000; i++) limiter.recordMessage(`u${i}@x.test`, 1, 1, at(0));
  assert.equal(limiter.tracked, 1000);
  limiter.checkMessage("late@x.test", at(3 * 24 * 60));
  assert.equal(limiter.tracked, 1);
});
