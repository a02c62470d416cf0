import { test } from "node:test";
import assert from "node:assert/strict";
import {
  createDummyHash,
  DEFAULT_HASH_PARAMS,
  hashPassword,
  needsRehash,
  PasswordRejectedError,
  preparePassword,
  verifyPassword,
} from "./password-hash.js";

// Low memory so the suite stays fast; production uses DEFAULT_HASH_PARAMS.
const params = { memoryCost: 64, timeCost: 1, parallelism: 1 };

test("a hashed password verifies and a wrong one does not", async () => {
  const stored = await hashPassword("correct horse", { params });
  assert.match(stored, /^\$argon2id\$v=19\$m=64,t=1,p=1\$/);
  assert.equal(await verifyPassword(stored, "correct horse"), true);
  assert.equal(await verifyPassword(stored, "correct horsE"), false);
  assert.equal(await verifyPassword(stored, "correct horse "), false);
});

test("two hashes of one password differ (random salt)", async () => {
  const a = await hashPassword("pw", { params });
  const b = await hashPassword("pw", { params });
  assert.notEqual(a, b);
});

test("a malformed or foreign stored hash is false, never an exception", async () => {
  for (const stored of ["", "garbage", "$argon2id$", "$argon2id$v=19$m=64,t=1,p=1$AAAA$BBBB", "$2b$10$abcdefghijklmnopqrstuv", "{PLAIN}pw"]) {
    assert.equal(await verifyPassword(stored, "pw"), false, stored);
  }
});

test("empty, over-long and control-character passwords are refused when hashing and false when checking", async () => {
  const stored = await hashPassword("x".repeat(1024), { params });
  assert.equal(await verifyPassword(stored, "x".repeat(1024)), true);
  await assert.rejects(hashPassword("", { params }), PasswordRejectedError);
  await assert.rejects(hashPassword("x".repeat(1025), { params }), PasswordRejectedError);
  await assert.rejects(hashPassword("a\u0000b", { params }), PasswordRejectedError);
  await assert.rejects(hashPassword("short", { params, maxPasswordBytes: 4 }), PasswordRejectedError);
  assert.equal(await verifyPassword(stored, ""), false);
  assert.equal(await verifyPassword(stored, "x".repeat(1025)), false);
  // The byte limit counts UTF-8 bytes, not UTF-16 units: 513 "é" are 1026 bytes.
  assert.ok(preparePassword("é".repeat(513)) instanceof PasswordRejectedError);
});

test("passwords are prepared per RFC 8265 OpaqueString: NFC and non-ASCII spaces", async () => {
  const stored = await hashPassword("caf\u00e9\u00a0bar", { params });
  assert.equal(await verifyPassword(stored, "cafe\u0301 bar"), true);
});

test("needsRehash is true for other parameters and for anything unparseable", async () => {
  const stored = await hashPassword("pw", { params });
  assert.equal(needsRehash(stored, params), false);
  assert.equal(needsRehash(stored, { ...params, timeCost: 2 }), true);
  assert.equal(needsRehash(stored, DEFAULT_HASH_PARAMS), true);
  assert.equal(needsRehash("garbage", params), true);
});

test("the dummy hash uses the given parameters and matches no guessable password", async () => {
  const dummy = await createDummyHash(params);
  assert.equal(needsRehash(dummy, params), false);
  assert.equal(await verifyPassword(dummy, "password"), false);
});
