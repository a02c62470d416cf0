import { test } from "node:test";
import assert from "node:assert/strict";
import type { Alias } from "../../store/index.js";
import { testAccount } from "../session/session-fixture.js";
import { fromAddresses, ownsAddress, ownsAllAuthors } from "./sender-ownership.js";

const alice = testAccount(1, "alice@example.org");
const bob = testAccount(2, "bob@example.org");
const aliases: Alias[] = [
  { address: "sales@example.org", targets: ["alice@example.org", "bob@example.org"] },
  { address: "@example.org", targets: ["alice@example.org"] },
];
const accounts = {
  async findAccountByAddress(address: string) {
    return [alice, bob].find((a) => a.address === address.toLowerCase()) ?? null;
  },
  async findAlias(address: string) {
    return aliases.find((a) => a.address === address.toLowerCase()) ?? null;
  },
  async isLocalDomain(domain: string) {
    return domain === "example.org";
  },
};

test("an account owns its address, its +tags and aliases to it, not a catch-all or another account", async () => {
  assert.equal(await ownsAddress(accounts, alice, "Alice@Example.org"), true);
  assert.equal(await ownsAddress(accounts, alice, "alice+news@example.org"), true);
  assert.equal(await ownsAddress(accounts, alice, "sales@example.org"), true);
  assert.equal(await ownsAddress(accounts, bob, "sales@example.org"), true);
  assert.equal(await ownsAddress(accounts, alice, "anything@example.org"), false, "catch-all does not grant sending");
  assert.equal(await ownsAddress(accounts, alice, "bob@example.org"), false);
  assert.equal(await ownsAddress(accounts, alice, "alice@elsewhere.example"), false);
});

test("every From: author must be owned; no author at all is refused", async () => {
  const from = fromAddresses([
    { name: "A", adl: null, mailbox: "alice", host: "example.org" },
    { name: null, adl: null, mailbox: "group", host: null },
    { name: null, adl: null, mailbox: "sales", host: "example.org" },
  ]);
  assert.deepEqual(from, ["alice@example.org", "sales@example.org"]);
  assert.equal(await ownsAllAuthors(accounts, alice, from), true);
  assert.equal(await ownsAllAuthors(accounts, alice, [...from, "bob@example.org"]), false);
  assert.equal(await ownsAllAuthors(accounts, alice, []), false);
});
