import { test, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { cheapHash, openTempStore, type TempStore } from "../../../test/harness/temp-store.js";
import { AdminError, createAdminOperations, type AdminOperations } from "../operations/index.js";
import { invokeAdminMethod } from "./methods.js";

let temp: TempStore;
let ops: AdminOperations;
beforeEach(async () => {
  temp = await openTempStore();
  ops = createAdminOperations({ accounts: temp.store, mail: temp.store, hashPassword: cheapHash });
  await ops.addDomain("example.org");
});
afterEach(() => temp.cleanup());

const refused = (promise: Promise<unknown>, text: RegExp) => assert.rejects(promise, (err: unknown) => err instanceof AdminError && err.kind === "invalid-argument" && text.test(err.message));

test("named methods run the operations with their arguments", async () => {
  const view = (await invokeAdminMethod(ops, "addUser", [{ address: "a@example.org", password: "long enough pw", quotaBytes: 1024 }])) as { address: string; quotaBytes: number };
  assert.equal(view.address, "a@example.org");
  assert.equal(view.quotaBytes, 1024);
  await invokeAdminMethod(ops, "setPop3Policy", ["a@example.org", { mode: "delete-after-retrieve", expireDays: null }]);
  assert.equal((await ops.listUsers())[0]!.pop3.mode, "delete-after-retrieve");
  assert.equal(await invokeAdminMethod(ops, "deleteUser", ["a@example.org"]), null);
  assert.deepEqual(await ops.listUsers(), []);
});

test("unknown methods, prototype names and ill-typed arguments are refused before anything runs", async () => {
  await refused(invokeAdminMethod(ops, "constructor", []), /unknown admin method/);
  await refused(invokeAdminMethod(ops, "__proto__", []), /unknown admin method/);
  await refused(invokeAdminMethod(ops, "outbound", []), /unknown admin method/);
  await refused(invokeAdminMethod(ops, "addDomain", [42]), /argument 1 must be a string/);
  await refused(invokeAdminMethod(ops, "addAlias", ["x@example.org", "a@example.org"]), /argument 2 must be a list of strings/);
  await refused(invokeAdminMethod(ops, "setQuota", ["a@example.org", 1.5]), /whole number/);
  await refused(invokeAdminMethod(ops, "addUser", [{ address: "a@example.org", password: 12345678 }]), /must be a string/);
  await refused(invokeAdminMethod(ops, "setPop3Policy", ["a@example.org", { mode: "destroy" }]), /bad value for mode/);
  await refused(invokeAdminMethod(ops, "setPop3Policy", ["a@example.org", { passwordHash: "x" }]), /unknown field passwordHash/);
  await refused(invokeAdminMethod(ops, "listUsers", [null, null, null, null, null]), /too many arguments/);
  assert.deepEqual(await ops.listUsers(), []);
});
