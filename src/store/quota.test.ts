import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { effectiveLimit, isFull, quotaSql, wouldFitUsage } from "./quota.js";
import { isStoreError, type Account, type AccountId } from "./index.js";
import { openSqliteStore } from "./sqlite/sqlite-store.js";

const account = (over: Partial<Account>): Account => ({
  id: 1 as AccountId,
  address: "a@example.org",
  passwordHash: "",
  quotaBytes: null,
  usedBytes: 0,
  pop3: { mode: "keep", markSeen: true, loginDelaySeconds: null, expireDays: null },
  createdAt: new Date(0),
  ...over,
});

test("effectiveLimit: an own value wins, null takes the default, 0 is unlimited either way", () => {
  assert.equal(effectiveLimit(100, 500), 100);
  assert.equal(effectiveLimit(null, 500), 500);
  assert.equal(effectiveLimit(0, 500), null);
  assert.equal(effectiveLimit(null, 0), null);
});

test("wouldFitUsage and isFull look at both resources", () => {
  const a = account({ quotaBytes: 1000, usedBytes: 900, quotaMessages: 5, usedMessages: 4 });
  assert.equal(wouldFitUsage(a, 100, 1), true);
  assert.equal(wouldFitUsage(a, 101, 1), false);
  assert.equal(wouldFitUsage(a, 10, 2), false);
  assert.equal(isFull(a), false);
  assert.equal(isFull({ ...a, usedMessages: 5 }), true);
  assert.equal(isFull({ ...a, usedBytes: 1000 }), true);
  assert.equal(isFull(account({ usedBytes: 10 ** 12 })), false, "no limit, never full");
});

test("quotaSql refuses a default that is not a whole number (it is inlined into SQL)", () => {
  assert.throws(() => quotaSql({ storageBytes: 1.5, messages: 0, warningPercent: 90 }));
  assert.throws(() => quotaSql({ storageBytes: 0, messages: -1, warningPercent: 90 }));
  assert.equal(quotaSql({ storageBytes: 0, messages: 0, warningPercent: 0 }).atWarning, "(1 = 0)");
});

test("config defaults apply to accounts without their own limit, when read and when enforced", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-quota-"));
  try {
    const store = await openSqliteStore({ dataDir, quota: { storageBytes: 1000, messages: 2, warningPercent: 90 } });
    try {
      await store.addDomain("example.org");
      const a = await store.createAccount({ address: "a@example.org", passwordHash: "x" });
      assert.equal(a.quotaBytes, 1000);
      assert.equal(a.quotaMessages, 2);
      const inbox = (await store.getMailbox(a.id, "INBOX"))!;
      await store.append(inbox.id, Buffer.from("Subject: 1\r\n\r\nx\r\n"));
      await store.append(inbox.id, Buffer.from("Subject: 2\r\n\r\nx\r\n"));
      await assert.rejects(store.append(inbox.id, Buffer.from("Subject: 3\r\n\r\nx\r\n")), (e) => isStoreError(e, "OVERQUOTA"));
      // An own limit of 0 is unlimited despite the default.
      const own = await store.setQuotaLimits(a.address, { messages: 0, storageBytes: 0 });
      assert.equal(own.quotaMessages, null);
      assert.equal(own.quotaBytes, null);
      await store.append(inbox.id, Buffer.from("Subject: 3\r\n\r\nx\r\n"));
    } finally {
      await store.close();
    }
    // Reopened under other defaults: the account's own values stay, the defaults are not baked in.
    const again = await openSqliteStore({ dataDir, quota: { storageBytes: 5, messages: 1, warningPercent: 90 } });
    try {
      const a = (await again.findAccountByAddress("a@example.org"))!;
      assert.equal(a.quotaMessages, null);
      await again.setQuotaLimits(a.address, { messages: null });
      assert.equal((await again.getAccount(a.id))!.quotaMessages, 1);
    } finally {
      await again.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
