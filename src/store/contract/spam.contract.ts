// Conformance: the spam classifier's per-account statistics (SpamTokenStore).
import assert from "node:assert/strict";
import { test } from "node:test";
import { type OpenBackend, using } from "./fixture.js";

export function spamTokenContract(open: OpenBackend): void {
  test("spam statistics: training counts tokens per class, per account, once per message", using(open, async (fx) => {
    const spam = fx.spam;
    if (!spam) return;
    const alice = await fx.account("alice");
    const bob = await fx.account("bob");
    const empty = await spam.readSpamTokens(alice.id, [1, 2, 3]);
    assert.deepEqual([empty.spamMessages, empty.hamMessages, empty.tokens.size], [0, 0, 0]);

    assert.equal(await spam.trainSpamMessage(alice.id, "m1", [1, 2, 2, 3], "spam"), true);
    assert.equal(await spam.trainSpamMessage(alice.id, "m2", [2, 4], "ham"), true);
    assert.equal(await spam.trainSpamMessage(alice.id, "m1", [1, 2, 3], "spam"), false, "the same message twice as spam counts once");
    const large = 2 ** 47 + 12_345; // tokens are 48-bit digests
    assert.equal(await spam.trainSpamMessage(alice.id, "m3", [large], "spam"), true);
    const counts = await spam.readSpamTokens(alice.id, [1, 2, 3, 4, 5, large]);
    assert.equal(counts.spamMessages, 2);
    assert.equal(counts.hamMessages, 1);
    assert.deepEqual(counts.tokens.get(1), { spam: 1, ham: 0 });
    assert.deepEqual(counts.tokens.get(2), { spam: 1, ham: 1 }, "a token repeated in one message counts once");
    assert.deepEqual(counts.tokens.get(4), { spam: 0, ham: 1 });
    assert.deepEqual(counts.tokens.get(large), { spam: 1, ham: 0 });
    assert.equal(counts.tokens.has(5), false);
    assert.equal((await spam.readSpamTokens(bob.id, [1, 2])).tokens.size, 0, "accounts do not share statistics");

    // Moving m1 out of Junk: its spam counts are taken back, then it counts as ham.
    assert.equal(await spam.trainSpamMessage(alice.id, "m1", [1, 2, 3], "ham"), true);
    const after = await spam.readSpamTokens(alice.id, [1, 2, 3]);
    assert.equal(after.spamMessages, 1);
    assert.equal(after.hamMessages, 2);
    assert.deepEqual(after.tokens.get(1), { spam: 0, ham: 1 });
    assert.deepEqual(after.tokens.get(2), { spam: 0, ham: 2 });

    // Deleting the account deletes its statistics; training for a missing account does nothing.
    await fx.accounts.deleteAccount(alice.address);
    assert.equal(await spam.trainSpamMessage(alice.id, "m9", [1], "spam"), false);
  }));

  test("spam statistics: reading many tokens at once (more than one statement's parameters)", using(open, async (fx) => {
    const spam = fx.spam;
    if (!spam) return;
    const alice = await fx.account("alice");
    const tokens = Array.from({ length: 3000 }, (_, i) => i * 7 + 1);
    await spam.trainSpamMessage(alice.id, "big", tokens, "spam");
    const counts = await spam.readSpamTokens(alice.id, tokens);
    assert.equal(counts.tokens.size, 3000);
  }));
}
