import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLogger } from "../observability/log.js";
import type { Account, AccountId, DeliveryRequest } from "../store/index.js";
import { StoreError } from "../store/index.js";
import { createQuotaService, humanBytes, quotaWarningMessage } from "./quota-warning.js";

const alice: Account = {
  id: 7 as AccountId,
  address: "alice@example.org",
  passwordHash: "",
  quotaBytes: 2 * 1024 ** 3,
  usedBytes: Math.round(1.9 * 1024 ** 3),
  quotaMessages: 1000,
  usedMessages: 120,
  pop3: { mode: "keep", markSeen: true, loginDelaySeconds: null, expireDays: null },
  createdAt: new Date(0),
};

test("the warning message: from the domain's postmaster, both resources, ASCII with CRLF", () => {
  const text = quotaWarningMessage(alice, 90, "mx.example.org", new Date("2026-12-03T10:00:00Z")).toString("ascii");
  assert.match(text, /^From: Mail Delivery System <postmaster@example\.org>\r\n/);
  assert.match(text, /\r\nSubject: Your mailbox is 95% full\r\n/);
  assert.match(text, /\r\nDate: Thu, 03 Dec 2026 10:00:00 \+0000\r\n/);
  assert.match(text, /Storage: +1\.9 GiB of 2\.0 GiB \(95%\)/);
  assert.match(text, /Messages: 120 of 1000 \(12%\)/);
  assert.doesNotMatch(text, /[^\r]\n/, "every line ends in CRLF");
  assert.equal(humanBytes(512), "512 bytes");
  assert.equal(humanBytes(1536), "1.5 KiB");
});

test("the service delivers only what the store lets it claim, into INBOX; a refusal is logged, not thrown", async () => {
  const delivered: DeliveryRequest[] = [];
  let claims = 0;
  let refuse = false;
  const service = createQuotaService({
    accounts: {
      getAccount: async () => alice,
      claimQuotaWarning: async () => (++claims === 1 || refuse ? alice : null),
    },
    mail: {
      getMailbox: async () => ({ id: 3 }) as never,
      deliver: async (request) => {
        if (refuse) throw new StoreError("OVERQUOTA", "full");
        delivered.push(request);
        return { size: 1, copies: [] };
      },
    },
    warningPercent: 90,
    hostname: "mx.example.org",
    log: silentLogger,
  });
  await service.noteAdded(alice.id);
  await service.noteAdded(alice.id);
  assert.equal(delivered.length, 1);
  assert.equal(delivered[0]!.targets[0]!.mailboxId, 3);
  refuse = true;
  await service.noteAdded(alice.id);
  const off = createQuotaService({ accounts: { getAccount: async () => alice, claimQuotaWarning: async () => assert.fail("not asked when disabled") }, mail: { getMailbox: async () => null, deliver: async () => assert.fail() }, warningPercent: 0, hostname: "h", log: silentLogger });
  await off.noteAdded(alice.id);
});
