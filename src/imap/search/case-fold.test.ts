// foldCase takes a shortcut (lower-casing only) for texts without characters that upper-casing
// changes; it must give exactly the full fold (NFC, upper, lower, σ for ς) for every text.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { FoldedNeedle, foldCase } from "./case-fold.js";

const fullFold = (text: string): string => text.normalize("NFC").toUpperCase().toLowerCase().replace(/ς/g, "σ");

test("foldCase equals the full fold on texts with and without upper-sensitive characters", () => {
  for (const text of ["Grüße aus Köln", "STRASSE straße", "ﬁle ﬀ", "ſtop", "ϐ ϑ ϕ", "ΌΣΟΣ όσος", "İstanbul ıi", "Ǆǅǆ", "東京の会議 Привет", "cafe\u0301", "\u212a elvin", "ŉ ǰ ΐ"]) {
    assert.equal(foldCase(text), fullFold(text), text);
  }
  fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 40 }), (text) => foldCase(text) === fullFold(text)), { numRuns: 2000 });
});

test("a needle is found across the shortcut: ß and SS, ligatures, final sigma", () => {
  assert.ok(new FoldedNeedle("strasse").foundIn("Die Straße ist lang, und"));
  assert.ok(new FoldedNeedle("office").foundIn("the oﬃce, déjà vu"));
  assert.ok(new FoldedNeedle("ΌΣΟΣ").foundIn("όσος"));
  assert.ok(!new FoldedNeedle("zanzibar").foundIn("Grüße"));
});
