import assert from "node:assert/strict";
import { test } from "node:test";
import { dayNumber, dayOfDateHeader, dayOfInstant } from "./calendar-day.js";
import { FoldedNeedle, foldCase } from "./case-fold.js";

const day = (iso: string): number => Date.parse(`${iso}T00:00:00Z`) / 86_400_000;

test("dayNumber counts from 1970-01-01 and refuses dates that do not exist", () => {
  assert.equal(dayNumber(1970, 1, 1), 0);
  assert.equal(dayNumber(1969, 12, 31), -1);
  assert.equal(dayNumber(2024, 2, 29), day("2024-02-29"));
  assert.equal(dayNumber(2023, 2, 29), null);
  assert.equal(dayNumber(2025, 4, 31), null);
  assert.equal(dayNumber(2025, 13, 1), null);
  assert.equal(dayNumber(2025, 1, 0), null);
  assert.equal(dayNumber(99, 1, 1), Math.floor(Date.parse("0099-01-01T00:00:00Z") / 86_400_000), "years below 100 stay as given");
});

test("dayOfInstant takes the UTC day", () => {
  assert.equal(dayOfInstant(new Date("2025-03-05T23:59:59.999Z")), day("2025-03-05"));
  assert.equal(dayOfInstant(new Date("2025-03-06T00:00:00Z")), day("2025-03-06"));
  assert.equal(dayOfInstant(new Date("1969-12-31T12:00:00Z")), -1);
});

test("dayOfDateHeader reads the day as written, ignoring time and zone", () => {
  const cases: [string, string | null][] = [
    ["Wed, 05 Mar 2025 08:30:00 +0100", "2025-03-05"],
    ["Mon, 03 Mar 2025 23:30:00 -0800", "2025-03-03"],
    ["5 Mar 2025 00:00 +1400", "2025-03-05"],
    ["Thu, 1 January 2015 10:00:00 GMT", "2015-01-01"],
    ["Fri, 21 Nov 97 09:55:06 -0600", "1997-11-21"],
    ["5 Mar 25 10:00 GMT", "2025-03-05"],
    ["1 Jan 049 00:00 GMT", "1949-01-01"],
    ["Tue (comment, 9 Sep 1999), 29 Feb 2000 12:00:00 +0000 (UTC)", "2000-02-29"],
    ["29 Feb 2001 00:00 +0000", null],
    ["yesterday", null],
    ["", null],
    ["2025-03-05T08:30:00Z", null],
  ];
  for (const [header, expected] of cases) assert.equal(dayOfDateHeader(header), expected === null ? null : day(expected), header);
});

test("case folding: ASCII, German sharp s, final sigma, composed vs decomposed", () => {
  assert.equal(foldCase("HeLLo"), "hello");
  assert.equal(foldCase("Straße"), foldCase("STRASSE"));
  assert.equal(foldCase("ΟΔΟΣ"), foldCase("οδος"));
  assert.equal(foldCase("Gru\u0308sse"), foldCase("GRÜSSE"));
  const needle = new FoldedNeedle("grüße");
  assert.ok(needle.foundIn("Viele GRÜSSE aus Berlin"));
  assert.ok(!needle.foundIn("Grube"));
  assert.ok(new FoldedNeedle("σ").foundIn("ΟΔΟΣ"), "a final sigma is a sigma");
  assert.ok(new FoldedNeedle("").foundIn(""), "the empty string is in every text");
  assert.ok(!new FoldedNeedle("x").foundIn(""));
});
