import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { cheapHash, openTempStore, type TempStore } from "../../test/harness/temp-store.js";
import { resolveRecipient } from "./resolve-recipient.js";

let temp: TempStore;
before(async () => {
  temp = await openTempStore();
  const { store } = temp;
  await store.addDomain("example.org");
  await store.addDomain("other.example");
  const hash = await cheapHash("correct horse battery");
  await store.createAccount({ address: "alice@example.org", passwordHash: hash });
  await store.createAccount({ address: "bob@example.org", passwordHash: hash });
  await store.addAlias("team@example.org", ["alice@example.org", "bob@example.org", "alice@example.org"]);
  await store.addAlias("@other.example", ["bob@example.org"]);
});
after(() => temp.cleanup());

const addressesOf = (r: Awaited<ReturnType<typeof resolveRecipient>>) => (r.kind === "local" ? r.accounts.map((a) => a.address).sort() : r.kind);

test("an account receives its own mail, whatever the case of the address", async () => {
  const r = await resolveRecipient(temp.store, "Alice@EXAMPLE.org");
  assert.equal(r.kind === "local" && r.via, "account");
  assert.deepEqual(addressesOf(r), ["alice@example.org"]);
});

test("an alias expands to its accounts, each once", async () => {
  const r = await resolveRecipient(temp.store, "team@example.org");
  assert.equal(r.kind === "local" && r.via, "alias");
  assert.deepEqual(addressesOf(r), ["alice@example.org", "bob@example.org"]);
});

test("a +tag reaches the account without the tag", async () => {
  const r = await resolveRecipient(temp.store, "bob+lists@example.org");
  assert.equal(r.kind === "local" && r.via, "subaddress");
  assert.deepEqual(addressesOf(r), ["bob@example.org"]);
  assert.equal((await resolveRecipient(temp.store, "bob+lists@example.org", { subaddressSeparator: "" })).kind, "unknown-user");
});

test("the catch-all takes unknown addresses of its domain only", async () => {
  assert.deepEqual(addressesOf(await resolveRecipient(temp.store, "anything@other.example")), ["bob@example.org"]);
  assert.equal(await resolveRecipient(temp.store, "nobody@example.org").then((r) => r.kind), "unknown-user");
});

test("foreign domains are not local, so relaying rules decide", async () => {
  assert.equal((await resolveRecipient(temp.store, "alice@elsewhere.example")).kind, "not-local");
  assert.equal((await resolveRecipient(temp.store, "no-at-sign")).kind, "not-local");
});
