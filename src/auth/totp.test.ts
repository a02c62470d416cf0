import { test } from "node:test";
import assert from "node:assert/strict";
import { cheapHash, openTempStore } from "../../test/harness/temp-store.js";
import { base32Decode, base32Encode, confirmTotp, disableTotp, enableTotp, hotp, totp, totpRequired, totpStatus, verifyTotp } from "./totp.js";

test("RFC 4226 Appendix D: HOTP values for counters 0-9", () => {
  const secret = Buffer.from("12345678901234567890", "ascii");
  const expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
  expected.forEach((value, counter) => assert.equal(hotp(secret, counter), value));
});

test("RFC 6238 Appendix B: TOTP values, 8 digits, SHA-1, SHA-256 and SHA-512", () => {
  const seeds = {
    sha1: Buffer.from("12345678901234567890", "ascii"),
    sha256: Buffer.from("12345678901234567890123456789012", "ascii"),
    sha512: Buffer.from("1234567890123456789012345678901234567890123456789012345678901234", "ascii"),
  };
  const table: [number, string, string, string][] = [
    [59, "94287082", "46119246", "90693936"],
    [1111111109, "07081804", "68084774", "25091201"],
    [1111111111, "14050471", "67062674", "99943326"],
    [1234567890, "89005924", "91819424", "93441116"],
    [2000000000, "69279037", "90698825", "38618901"],
    [20000000000, "65353130", "77737706", "47863826"],
  ];
  for (const [time, sha1, sha256, sha512] of table) {
    assert.equal(totp(seeds.sha1, time, 8, "sha1"), sha1);
    assert.equal(totp(seeds.sha256, time, 8, "sha256"), sha256);
    assert.equal(totp(seeds.sha512, time, 8, "sha512"), sha512);
  }
});

test("base32 round-trips (RFC 4648 §10 vectors) and refuses foreign characters", () => {
  assert.equal(base32Encode(Buffer.from("foobar")), "MZXW6YTBOI");
  assert.equal(base32Encode(Buffer.from("fo")), "MZXQ");
  assert.deepEqual(base32Decode("mzxw6ytboi======"), Buffer.from("foobar"));
  assert.equal(base32Decode("MZ1W"), null);
});

test("enrollment: confirmed by a first code; each code and each recovery code works once", async () => {
  const temp = await openTempStore();
  try {
    const { store } = temp;
    await store.addDomain("example.org");
    const account = await store.createAccount({ address: "tim@example.org", passwordHash: await cheapHash("secret pw") });
    assert.deepEqual(await totpStatus(store, account), { enabled: false });
    assert.equal(await verifyTotp(store, account, "123456"), "not-enabled");

    const enrollment = await enableTotp(store, account, "Mailroom", new Date(1_000_000_000_000));
    assert.match(enrollment.uri, /^otpauth:\/\/totp\/Mailroom:tim%40example\.org\?secret=[A-Z2-7]+&issuer=Mailroom/);
    assert.equal(enrollment.recoveryCodes.length, 10);
    assert.equal(await totpRequired(store, account), false, "not required before confirmation");
    const secret = base32Decode(enrollment.secret)!;
    const t = 1_700_000_000;
    assert.equal(await confirmTotp(store, account, "000000", new Date(t * 1000)), totp(secret, t) === "000000");
    assert.equal(await confirmTotp(store, account, totp(secret, t), new Date(t * 1000)), true);
    assert.equal(await totpRequired(store, account), true);

    // The code just used for confirmation is not accepted again; the next step's is, once.
    assert.equal(await verifyTotp(store, account, totp(secret, t), new Date(t * 1000)), "invalid");
    assert.equal(await verifyTotp(store, account, totp(secret, t + 30), new Date((t + 30) * 1000)), "ok");
    assert.equal(await verifyTotp(store, account, totp(secret, t + 30), new Date((t + 40) * 1000)), "invalid");
    // One step of drift either way is accepted; three are not.
    assert.equal(await verifyTotp(store, account, totp(secret, t + 90), new Date((t + 60) * 1000)), "ok");
    assert.equal(await verifyTotp(store, account, totp(secret, t + 300), new Date((t + 120) * 1000)), "invalid");
    assert.equal(await verifyTotp(store, account, "not a code"), "invalid");

    const [first] = enrollment.recoveryCodes;
    assert.equal(await verifyTotp(store, account, first!.toUpperCase()), "ok");
    assert.equal(await verifyTotp(store, account, first!), "invalid");
    assert.deepEqual(await totpStatus(store, account), { enabled: true, confirmed: true, recoveryCodesLeft: 9, createdAt: new Date(1_000_000_000_000) });

    // Two requests racing with the same recovery code: exactly one wins.
    const second = enrollment.recoveryCodes[1]!;
    const results = await Promise.all([verifyTotp(store, account, second), verifyTotp(store, account, second)]);
    assert.deepEqual(results.sort(), ["invalid", "ok"]);

    await disableTotp(store, account);
    assert.equal(await verifyTotp(store, account, enrollment.recoveryCodes[2]!), "not-enabled");
  } finally {
    await temp.cleanup();
  }
});
