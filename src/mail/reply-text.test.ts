import { test } from "node:test";
import assert from "node:assert/strict";
import { fitOctets, stripControls } from "./reply-text.js";

test("control characters that could split a reply line are removed", () => {
  assert.equal(stripControls("ok\r\n250 forged\x00\x7f"), "ok250 forged");
});

test("text is cut to the octet limit at a character boundary", () => {
  assert.equal(fitOctets("short", 10), "short");
  assert.equal(fitOctets("Grüße", 4), "Grü"); // G r ü(2) = 4 octets
  assert.equal(fitOctets("Grüße", 3), "Gr"); // ü would need 2 more
  assert.equal(Buffer.byteLength(fitOctets("€".repeat(100), 10)), 9);
});
