// Conformance: greylisting state (GreylistStore), with explicit times (no waiting).
import assert from "node:assert/strict";
import { test } from "node:test";
import { type OpenBackend, using } from "./fixture.js";

const T0 = Date.UTC(2026, 11, 1);
const at = (seconds: number) => new Date(T0 + seconds * 1000);

export function greylistContract(open: OpenBackend): void {
  test("greylisting: new, early, pass after the delay, the sender whitelisted, expiry", using(open, async (fx) => {
    const store = fx.greylist;
    if (!store) return;
    const check = (triplet: string, sender: string, seconds: number) => store.checkGreylist({ triplet, sender, now: at(seconds), delaySeconds: 300, retryWindowSeconds: 86_400, whitelistSeconds: 35 * 86_400 });
    assert.deepEqual(await check("net1|a@x|r@y", "net1|x", 0), { kind: "new" });
    assert.deepEqual(await check("net1|a@x|r@y", "net1|x", 100), { kind: "early", retryInSeconds: 200 });
    assert.deepEqual(await check("net1|a@x|r@y", "net1|x", 301), { kind: "pass" });
    assert.deepEqual(await check("net1|a@x|r@y", "net1|x", 302), { kind: "pass" }, "a passed triplet stays passed");
    // The sender (network and domain) that retried is let through at once for another recipient.
    assert.deepEqual(await check("net1|b@x|s@y", "net1|x", 400), { kind: "pass" });
    // Another network is greylisted on its own.
    assert.deepEqual(await check("net2|a@x|r@y", "net2|x", 400), { kind: "new" });
    // Not retried within the window: it starts over.
    assert.deepEqual(await check("net2|a@x|r@y", "net2|x", 400 + 86_401), { kind: "new" });
    // Whitelisting ends.
    assert.deepEqual(await check("net1|c@x|t@y", "net1|x", 36 * 86_400), { kind: "new" });
    const removed = await store.expireGreylist(at(100 * 86_400), 40 * 86_400);
    assert.ok(removed >= 4, `removed ${removed}`);
    assert.deepEqual(await check("net1|a@x|r@y", "net1|x", 100 * 86_400), { kind: "new" }, "expired rows are gone");
  }));
}
