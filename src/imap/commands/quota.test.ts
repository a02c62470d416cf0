import assert from "node:assert/strict";
import { test } from "node:test";
import type { Account, AccountId } from "../../store/index.js";
import { quotaList } from "./quota.js";

const base: Account = { id: 1 as AccountId, address: "a@example.org", passwordHash: "", quotaBytes: null, usedBytes: 0, pop3: { mode: "keep", markSeen: true, loginDelaySeconds: null, expireDays: null }, createdAt: new Date(0) };

test("quotaList: STORAGE in KiB rounded down, MESSAGE as counted, only limited resources", () => {
  assert.equal(quotaList(base), null, "no limit: no quota root");
  const storage = quotaList({ ...base, quotaBytes: 2 * 1024 ** 3, usedBytes: 1023 });
  assert.deepEqual(storage, [{ kind: "atom", value: "STORAGE" }, { kind: "number", value: 0 }, { kind: "number", value: 2097152 }]);
  const both = quotaList({ ...base, quotaBytes: 10 * 1024, usedBytes: 5000, quotaMessages: 100, usedMessages: 7 });
  assert.deepEqual(both?.map((v) => ("value" in v ? v.value : null)), ["STORAGE", 4, 10, "MESSAGE", 7, 100]);
  const messagesOnly = quotaList({ ...base, quotaMessages: 5, usedMessages: 5 });
  assert.deepEqual(messagesOnly?.map((v) => ("value" in v ? v.value : null)), ["MESSAGE", 5, 5]);
});
