// RFC 4314 rights: canonical form, the obsolete "c" and "d" (§2.1.1), SETACL's +/- changes (§3.1),
// the union over identifiers (§2).
import assert from "node:assert/strict";
import { test } from "node:test";
import { ALL_RIGHTS, applyRightsChange, canonicalRights, displayRights, hasRights, parseRightsChange, unionRights } from "./acl-rights.js";

test("canonical rights: each once, in lrswipkxtea order; unknown letters refused", () => {
  assert.equal(canonicalRights("arl"), "lra");
  assert.equal(canonicalRights("llrr"), "lr");
  assert.equal(canonicalRights(""), "");
  assert.equal(canonicalRights(ALL_RIGHTS), ALL_RIGHTS);
  assert.equal(canonicalRights("lrz"), null);
  assert.equal(canonicalRights("LR"), null, "rights are lower case");
  assert.equal(canonicalRights("l r"), null);
  assert.equal(canonicalRights("0"), null);
});

test("obsolete rights: c is k, d is x, t and e; shown back when a member is held", () => {
  assert.equal(canonicalRights("c"), "k");
  assert.equal(canonicalRights("d"), "xte");
  assert.equal(canonicalRights("lrcd"), "lrkxte");
  assert.equal(displayRights("lr"), "lr");
  assert.equal(displayRights("lrk"), "lrkc");
  assert.equal(displayRights("lrt"), "lrtd");
  assert.equal(displayRights(ALL_RIGHTS), "lrswipkxteacd");
});

test("SETACL changes: replace, + adds, - takes away (c and d expanded)", () => {
  assert.deepEqual(parseRightsChange("lr"), { mode: "replace", rights: "lr" });
  assert.deepEqual(parseRightsChange("+w"), { mode: "add", rights: "w" });
  assert.deepEqual(parseRightsChange("-d"), { mode: "remove", rights: "xte" });
  assert.equal(parseRightsChange("+q"), null);
  assert.deepEqual(parseRightsChange("+"), { mode: "add", rights: "" });
  assert.equal(applyRightsChange("lr", { mode: "add", rights: "sw" }), "lrsw");
  assert.equal(applyRightsChange("lrsxte", { mode: "remove", rights: "xte" }), "lrs");
  assert.equal(applyRightsChange("lrs", { mode: "replace", rights: "" }), "");
  assert.equal(applyRightsChange("", { mode: "remove", rights: "l" }), "");
});

test("a user's rights are the union over the identifiers that name it", () => {
  assert.equal(unionRights("lr", "sw", "l"), "lrsw");
  assert.equal(unionRights(), "");
  assert.ok(hasRights("lrs", "rs"));
  assert.ok(!hasRights("lr", "rs"));
  assert.ok(hasRights("lr", ""));
});
