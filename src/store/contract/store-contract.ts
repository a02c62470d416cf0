// The store conformance suite: one behaviour specification, written against MailStore,
// AccountStore and QueueStore only, run against every backend (SQLite now, PostgreSQL later).
// Each test opens its own fresh backend through `open`, so tests are independent and may run in
// any order.
import { describe } from "node:test";
import { accountContract } from "./accounts.contract.js";
import { batchReadContract } from "./batch-reads.contract.js";
import { changeContract } from "./changes.contract.js";
import type { OpenBackend } from "./fixture.js";
import { headerSearchContract } from "./header-search.contract.js";
import { imapItemsContract } from "./imap-items.contract.js";
import { mailboxContract } from "./mailboxes.contract.js";
import { queueContract } from "./queue.contract.js";
import { recentContract } from "./recent.contract.js";
import { messageContract, stagingContract } from "./messages.contract.js";
import { textSearchContract } from "./text-search.contract.js";
import { updateContract } from "./updates.contract.js";
import { sieveContract } from "./sieve.contract.js";

export type { ContractBackend, OpenBackend, StoreHandles } from "./fixture.js";

export function runStoreContract(name: string, open: OpenBackend): void {
  describe(`store contract: ${name}`, () => {
    describe("accounts", () => accountContract(open));
    describe("mailboxes", () => mailboxContract(open));
    describe("messages", () => messageContract(open));
    describe("staging", () => stagingContract(open));
    describe("batch reads", () => batchReadContract(open));
    describe("updates", () => updateContract(open));
    describe("changes", () => changeContract(open));
    describe("queue", () => queueContract(open));
    describe("recent and multiappend", () => recentContract(open));
    describe("text search", () => textSearchContract(open));
    describe("header search", () => headerSearchContract(open));
    describe("encoded FETCH items", () => imapItemsContract(open));
    describe("sieve scripts", () => sieveContract(open));
  });
}
