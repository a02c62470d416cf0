import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { checkMailboxName, checkNewMailboxName, decodeMailboxName, decodeModifiedUtf7, encodeMailboxName, encodeModifiedUtf7 } from "./mailbox-name.js";
import { ImapParseError } from "./parse-error.js";

const cannot = (e: unknown) => e instanceof ImapParseError && e.status === "NO" && e.code === "CANNOT";

describe("modified UTF-7 (RFC 3501 §5.1.3)", () => {
  const table: [string, string][] = [
    ["INBOX", "INBOX"],
    ["Entwürfe", "Entw&APw-rfe"],
    ["A&B", "A&-B"],
    ["~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"],
    ["😀", "&2D3eAA-"],
    ["Ünïcödé", "&ANw-n&AO8-c&APY-d&AOk-"],
  ];
  for (const [unicode, wire] of table) {
    it(`${unicode} <-> ${wire}`, () => {
      assert.equal(encodeModifiedUtf7(unicode), wire);
      assert.equal(decodeModifiedUtf7(wire), unicode);
    });
  }
  const invalid = ["&", "&AOk", "&AOk-&AOk-", "&AEE-", "caf\u00e9", "&2D3-", "&3gA-", "&AO!-", "&AOl-", "a\u0001b"];
  for (const wire of invalid) {
    it(`refuses ${JSON.stringify(wire)} with NO [CANNOT], never repairing it`, () => assert.throws(() => decodeModifiedUtf7(wire), cannot));
  }
  it("property: decode(encode(s)) === s for any Unicode string", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 30 }), (s) => assert.equal(decodeModifiedUtf7(encodeModifiedUtf7(s)), s)));
  });
  it("property: random wire text either decodes to a form that encodes back identically, or is refused", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9&+,-]{0,16}$/), (wire) => {
        let decoded: string;
        try {
          decoded = decodeModifiedUtf7(wire);
        } catch (error) {
          assert.ok(cannot(error));
          return;
        }
        assert.equal(encodeModifiedUtf7(decoded), wire);
      }),
    );
  });
});

describe("mailbox name checks", () => {
  for (const bad of ["", "/a", "a/", "a//b", "a/../b", ".", "..", "a\u0000b", "tab\there"]) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.throws(() => checkMailboxName(bad), cannot));
  }
  it("reads any case of INBOX as INBOX and leaves other names alone", () => {
    assert.equal(checkMailboxName("inBox"), "INBOX");
    assert.equal(checkMailboxName("inbox/Sub"), "inbox/Sub");
    assert.equal(checkMailboxName("Ärger"), "Ärger");
  });
  it("UTF-8 clients send and receive names as they are, and invalid UTF-8 is refused", () => {
    assert.equal(decodeMailboxName(Buffer.from("Entwürfe"), true), "Entwürfe");
    assert.equal(encodeMailboxName("Entwürfe", true), "Entwürfe");
    assert.equal(encodeMailboxName("Entwürfe", false), "Entw&APw-rfe");
    assert.throws(() => decodeMailboxName(Buffer.from([0x61, 0xff]), true), cannot);
  });
});

describe("names for new mailboxes (CREATE, RENAME's new name)", () => {
  for (const bad of ["~root/x", "~", "..\\..\\x", "a\\b", "Archive\\2026", "~/Mail", "a//b"]) {
    it(`refuses ${JSON.stringify(bad)} with NO [CANNOT]`, () => assert.throws(() => checkNewMailboxName(bad), cannot));
  }
  it("accepts a '~' that does not lead, and existing names of either form stay usable", () => {
    assert.equal(checkNewMailboxName("Archive/~old"), "Archive/~old");
    assert.equal(checkNewMailboxName("x~y"), "x~y");
    assert.equal(checkNewMailboxName("inbox/Sub"), "inbox/Sub");
    assert.equal(checkMailboxName("~root/x"), "~root/x");
    assert.equal(checkMailboxName("a\\b"), "a\\b");
  });
});
