// Conformance: domains, accounts, aliases and the default mailboxes of a new account.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_MAILBOXES, isStoreError } from "../index.js";
import { type OpenBackend, using } from "./fixture.js";

export function accountContract(open: OpenBackend): void {
  test("domains: add, list, case-insensitive lookup, duplicates and deletion", using(open, async ({ accounts }) => {
    const domain = await accounts.addDomain("Example.TEST");
    assert.equal(domain.name, "example.test");
    await accounts.addDomain("other.test");
    assert.deepEqual((await accounts.listDomains()).map((d) => d.name), ["example.test", "other.test"]);
    assert.equal(await accounts.isLocalDomain("EXAMPLE.test"), true);
    assert.equal(await accounts.isLocalDomain("nowhere.test"), false);
    await assert.rejects(accounts.addDomain("example.test"), (e) => isStoreError(e, "ALREADYEXISTS"));
    await assert.rejects(accounts.addDomain("not a domain"), (e) => isStoreError(e, "INVALID"));
    await accounts.deleteDomain("other.test");
    await assert.rejects(accounts.deleteDomain("other.test"), (e) => isStoreError(e, "NONEXISTENT"));
    assert.equal(await accounts.isLocalDomain("other.test"), false);
  }));

  test("domains with accounts or aliases cannot be deleted", using(open, async (fx) => {
    await fx.account("alice");
    await assert.rejects(fx.accounts.deleteDomain("example.test"), (e) => isStoreError(e, "HASACCOUNTS"));
    await fx.accounts.addDomain("aliases.test");
    await fx.accounts.addAlias("info@aliases.test", ["alice@example.test"]);
    await assert.rejects(fx.accounts.deleteDomain("aliases.test"), (e) => isStoreError(e, "HASACCOUNTS"));
    await fx.accounts.deleteAlias("info@aliases.test");
    await fx.accounts.deleteDomain("aliases.test");
  }));

  test("accounts: create, find case-insensitively, update, list and errors", using(open, async (fx) => {
    const { accounts } = fx;
    await assert.rejects(accounts.createAccount({ address: "bob@nowhere.test", passwordHash: "h" }), (e) => isStoreError(e, "NONEXISTENT"));
    const bob = await fx.account("Bob");
    assert.equal(bob.address, "Bob@example.test");
    assert.equal(bob.usedBytes, 0);
    assert.equal(bob.quotaBytes, null);
    await assert.rejects(accounts.createAccount({ address: "BOB@EXAMPLE.TEST", passwordHash: "h" }), (e) => isStoreError(e, "ALREADYEXISTS"));
    await assert.rejects(accounts.createAccount({ address: "no-at-sign", passwordHash: "h" }), (e) => isStoreError(e, "INVALID"));
    assert.equal((await accounts.findAccountByAddress("bob@EXAMPLE.test"))?.id, bob.id);
    assert.equal((await accounts.getAccount(bob.id))?.address, "Bob@example.test");
    assert.equal(await accounts.findAccountByAddress("nobody@example.test"), null);
    await accounts.setPasswordHash("bob@example.test", "$new");
    await accounts.setQuota("bob@example.test", 1000);
    const updated = await accounts.setPop3Policy("bob@example.test", { mode: "delete-after-retrieve", loginDelaySeconds: 60 });
    assert.equal(updated.passwordHash, "$new");
    assert.equal(updated.quotaBytes, 1000);
    assert.equal(updated.pop3.mode, "delete-after-retrieve");
    assert.equal(updated.pop3.loginDelaySeconds, 60);
    await assert.rejects(accounts.setQuota("bob@example.test", -5), (e) => isStoreError(e, "INVALID"));
    await assert.rejects(accounts.setPasswordHash("nobody@example.test", "x"), (e) => isStoreError(e, "NONEXISTENT"));
    await fx.account("carol");
    assert.deepEqual((await accounts.listAccounts("example.test")).map((a) => a.address), ["Bob@example.test", "carol@example.test"]);
    assert.deepEqual(await accounts.listAccounts("nowhere.test"), []);
  }));

  test("deleting an account removes its mailboxes, messages and alias targets", using(open, async (fx) => {
    const alice = await fx.account("alice");
    await fx.account("bob");
    const inbox = await fx.mailbox(alice.id);
    await fx.append(inbox.id);
    await fx.accounts.addAlias("team@example.test", ["alice@example.test", "bob@example.test"]);
    await fx.accounts.addAlias("solo@example.test", ["alice@example.test"]);
    await fx.accounts.deleteAccount("ALICE@example.test");
    assert.equal(await fx.accounts.findAccountByAddress("alice@example.test"), null);
    assert.equal(await fx.mail.getMailboxById(inbox.id), null);
    assert.deepEqual((await fx.accounts.findAlias("team@example.test"))?.targets, ["bob@example.test"]);
    assert.equal(await fx.accounts.findAlias("solo@example.test"), null);
    const blobs = fx.blobFileCount();
    if (blobs) assert.equal(await blobs, 0);
    await assert.rejects(fx.accounts.deleteAccount("alice@example.test"), (e) => isStoreError(e, "NONEXISTENT"));
  }));

  test("aliases: targets accumulate, catch-all, exact case-insensitive lookup, partial delete", using(open, async (fx) => {
    const { accounts } = fx;
    await fx.account("alice");
    await fx.account("bob");
    await accounts.addAlias("Sales@example.test", ["alice@example.test"]);
    const alias = await accounts.addAlias("sales@EXAMPLE.test", ["bob@example.test", "ALICE@example.test"]);
    assert.deepEqual(alias, { address: "Sales@example.test", targets: ["alice@example.test", "bob@example.test"] });
    await accounts.addAlias("@example.test", ["alice@example.test"]);
    assert.deepEqual((await accounts.findAlias("@EXAMPLE.TEST"))?.targets, ["alice@example.test"]);
    assert.equal(await accounts.findAlias("unknown@example.test"), null, "no catch-all fallback in findAlias");
    await assert.rejects(accounts.addAlias("x@nowhere.test", ["alice@example.test"]), (e) => isStoreError(e, "NONEXISTENT"));
    await assert.rejects(accounts.addAlias("x@example.test", []), (e) => isStoreError(e, "INVALID"));
    assert.deepEqual((await accounts.listAliases("example.test")).map((a) => a.address), ["@example.test", "Sales@example.test"]);
    await accounts.deleteAlias("sales@example.test", ["alice@example.test"]);
    assert.deepEqual((await accounts.findAlias("sales@example.test"))?.targets, ["bob@example.test"]);
    await accounts.deleteAlias("sales@example.test");
    assert.equal(await accounts.findAlias("sales@example.test"), null);
    await assert.rejects(accounts.deleteAlias("sales@example.test"), (e) => isStoreError(e, "NONEXISTENT"));
  }));

  test("a new account has the default mailboxes with their special-use, subscribed", using(open, async (fx) => {
    const alice = await fx.account("alice");
    const boxes = await fx.mail.listMailboxes(alice.id);
    assert.deepEqual(boxes.map((b) => [b.name, b.specialUse]), DEFAULT_MAILBOXES.map((d) => [d.name, d.specialUse]));
    for (const box of boxes) {
      assert.equal(box.accountId, alice.id);
      assert.equal(box.uidNext, 1);
      assert.ok(box.subscribed);
    }
    assert.equal(new Set(boxes.map((b) => b.uidValidity)).size, boxes.length, "UIDVALIDITY unique per mailbox");
  }));

  test("a page of accounts: address order, domain and literal search filters, the total that match", using(open, async (fx) => {
    const accounts = fx.accounts;
    if (!accounts.listAccountsPage) return;
    await accounts.addDomain("example.org");
    await accounts.addDomain("example.net");
    for (const local of ["carol", "alice", "bob", "a_b", "a%c"]) await accounts.createAccount({ address: `${local}@example.org`, passwordHash: "x", quotaBytes: null });
    await accounts.createAccount({ address: "Dave@example.net", passwordHash: "x", quotaBytes: null });
    const first = await accounts.listAccountsPage({ offset: 0, limit: 2 });
    assert.equal(first.total, 6);
    assert.deepEqual(first.items.map((a) => a.address), ["a%c@example.org", "a_b@example.org"]);
    const rest = await accounts.listAccountsPage({ domain: "example.org", offset: 2, limit: 10 });
    assert.deepEqual([rest.total, rest.items.map((a) => a.address)], [5, ["alice@example.org", "bob@example.org", "carol@example.org"]]);
    assert.deepEqual((await accounts.listAccountsPage({ search: "dave", offset: 0, limit: 10 })).items.map((a) => a.address), ["Dave@example.net"], "case-insensitive");
    assert.deepEqual((await accounts.listAccountsPage({ search: "a_", offset: 0, limit: 10 })).items.map((a) => a.address), ["a_b@example.org"], "_ is a literal character, not a wildcard");
    assert.deepEqual((await accounts.listAccountsPage({ search: "%", offset: 0, limit: 10 })).items.map((a) => a.address), ["a%c@example.org"], "% is literal too");
    assert.equal((await accounts.listAccountsPage({ domain: "example.net", search: "alice", offset: 0, limit: 10 })).total, 0);
  }));
}
