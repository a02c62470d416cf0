// Conformance: Sieve scripts (one active at most, names, limits) and the vacation reply memory.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isStoreError } from "../index.js";
import { type OpenBackend, using } from "./fixture.js";

export function sieveContract(open: OpenBackend): void {
  test("sieve scripts: put, list, activate, get, rename, delete, limits", using(open, async (fx) => {
    const sieve = fx.sieve;
    if (!sieve) return;
    const alice = await fx.account("alice");
    const bob = await fx.account("bob");
    await sieve.putSieveScript(alice.id, "main", "keep;", 3);
    await sieve.putSieveScript(alice.id, "other", 'discard;', 3);
    await sieve.putSieveScript(bob.id, "main", "stop;", 3);
    assert.deepEqual(await sieve.listSieveScripts(alice.id), [{ name: "main", active: false, size: 5 }, { name: "other", active: false, size: 8 }]);
    assert.equal(await sieve.getActiveSieveScript(alice.id), null);
    await sieve.setActiveSieveScript(alice.id, "main");
    await sieve.setActiveSieveScript(alice.id, "other");
    assert.equal((await sieve.getActiveSieveScript(alice.id))?.name, "other");
    assert.equal((await sieve.listSieveScripts(alice.id)).filter((s) => s.active).length, 1);
    assert.equal(await sieve.getActiveSieveScript(bob.id), null);
    // Replacing keeps the active flag.
    await sieve.putSieveScript(alice.id, "other", "keep; stop;", 3);
    const other = await sieve.getSieveScript(alice.id, "other");
    assert.equal(other?.content, "keep; stop;");
    assert.equal(other?.active, true);
    await assert.rejects(sieve.setActiveSieveScript(alice.id, "none"), (e) => isStoreError(e, "NONEXISTENT"));
    await assert.rejects(sieve.deleteSieveScript(alice.id, "other"), (e) => isStoreError(e, "CANNOT"));
    await assert.rejects(sieve.renameSieveScript(alice.id, "main", "other"), (e) => isStoreError(e, "ALREADYEXISTS"));
    await sieve.renameSieveScript(alice.id, "other", "renamed");
    assert.equal((await sieve.getActiveSieveScript(alice.id))?.name, "renamed");
    await sieve.putSieveScript(alice.id, "third", "keep;", 3);
    await assert.rejects(sieve.putSieveScript(alice.id, "fourth", "keep;", 3), (e) => isStoreError(e, "CANNOT"));
    await sieve.setActiveSieveScript(alice.id, null);
    assert.equal(await sieve.getActiveSieveScript(alice.id), null);
    await sieve.deleteSieveScript(alice.id, "renamed");
    await assert.rejects(sieve.deleteSieveScript(alice.id, "renamed"), (e) => isStoreError(e, "NONEXISTENT"));
    assert.deepEqual((await sieve.listSieveScripts(alice.id)).map((s) => s.name), ["main", "third"]);
    await fx.accounts.deleteAccount(alice.address);
    assert.deepEqual(await sieve.listSieveScripts(alice.id), []);
  }));

  test("vacation replies: once per sender and handle per period", using(open, async (fx) => {
    const sieve = fx.sieve;
    if (!sieve) return;
    const alice = await fx.account("alice");
    const t0 = new Date("2026-01-01T00:00:00Z");
    const later = (s: number): Date => new Date(t0.getTime() + s * 1000);
    assert.equal(await sieve.claimVacationReply(alice.id, "h", "Bob@Example.net", 3600, t0), true);
    assert.equal(await sieve.claimVacationReply(alice.id, "h", "bob@example.net", 3600, later(10)), false);
    assert.equal(await sieve.claimVacationReply(alice.id, "other", "bob@example.net", 3600, later(10)), true);
    assert.equal(await sieve.claimVacationReply(alice.id, "h", "carol@example.net", 3600, later(10)), true);
    assert.equal(await sieve.claimVacationReply(alice.id, "h", "bob@example.net", 3600, later(3601)), true);
    assert.equal(await sieve.claimVacationReply(alice.id, "h", "bob@example.net", 3600, later(3602)), false);
  }));

  test("duplicate tracking (RFC 7352): seen until expiry, :last moves the expiry, per account", using(open, async (fx) => {
    const sieve = fx.sieve;
    if (!sieve) return;
    const alice = await fx.account("alice");
    const bob = await fx.account("bob");
    const t0 = new Date("2026-01-01T00:00:00Z");
    const at = (s: number): Date => new Date(t0.getTime() + s * 1000);
    assert.deepEqual(await sieve.seenSieveDuplicates(alice.id, ["k1", "k2"], t0), new Set());
    await sieve.recordSieveDuplicates(alice.id, [{ key: "k1", seconds: 100, last: false }, { key: "k2", seconds: 100, last: true }], t0);
    assert.deepEqual(await sieve.seenSieveDuplicates(alice.id, ["k1", "k2", "k3"], at(50)), new Set(["k1", "k2"]));
    assert.deepEqual(await sieve.seenSieveDuplicates(bob.id, ["k1"], at(50)), new Set(), "per account");
    // Seen again at 50 s: without :last the first expiry stays (100 s), with :last it moves to 150 s.
    await sieve.recordSieveDuplicates(alice.id, [{ key: "k1", seconds: 100, last: false }, { key: "k2", seconds: 100, last: true }], at(50));
    assert.deepEqual(await sieve.seenSieveDuplicates(alice.id, ["k1", "k2"], at(120)), new Set(["k2"]));
    assert.deepEqual(await sieve.seenSieveDuplicates(alice.id, ["k1", "k2"], at(151)), new Set());
    // An expired key is recorded afresh.
    await sieve.recordSieveDuplicates(alice.id, [{ key: "k1", seconds: 10, last: false }], at(200));
    assert.deepEqual(await sieve.seenSieveDuplicates(alice.id, ["k1"], at(205)), new Set(["k1"]));
    await fx.accounts.deleteAccount(alice.address);
    assert.deepEqual(await sieve.seenSieveDuplicates(alice.id, ["k1"], at(205)), new Set());
  }));
}
