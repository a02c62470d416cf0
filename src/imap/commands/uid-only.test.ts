// RFC 9586 UIDONLY helpers: which command forms need the UID form, which search programs name
// sequence numbers, and how a FETCH response starts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ArgumentReader } from "../protocol/arguments.js";
import { parseSearchCriteria } from "../protocol/search-key.js";
import type { ImapExtension, ParseContext } from "./command.js";
import { buildCommandTable } from "./index.js";
import { fetchLead, needsUidForm, refuseSequenceKeys } from "./uid-only.js";
import { ImapError } from "./imap-error.js";

const table = buildCommandTable();
const parseContext = (enabled: ImapExtension[]): ParseContext => ({ name: "SEARCH", byUid: true, enabled: new Set(enabled), rev2: false });
const criteria = (text: string) => parseSearchCriteria(new ArgumentReader({ lines: [Buffer.from(text)], literals: [] }, { utf8Names: false })).key;

test("the non-UID forms of commands taking sequence numbers need the UID form", () => {
  for (const name of ["FETCH", "STORE", "SEARCH", "COPY", "MOVE", "SORT", "THREAD", "REPLACE"]) {
    const command = table.find(name, false)!;
    assert.equal(needsUidForm(command, false), true, name);
    assert.equal(needsUidForm(command, true), false, `UID ${name}`);
  }
  for (const name of ["EXPUNGE", "SELECT", "ESEARCH", "APPEND", "NOOP", "STATUS", "CLOSE"]) assert.equal(needsUidForm(table.find(name, false)!, false), false, name);
});

test("sequence-set search keys are BAD [UIDREQUIRED] under UIDONLY; UID sets and $ are not", () => {
  const refused = (text: string): boolean => {
    try {
      refuseSequenceKeys(criteria(text), parseContext(["UIDONLY"]));
      return false;
    } catch (error) {
      assert.ok(error instanceof ImapError);
      assert.equal(error.status, "BAD");
      assert.equal(error.code, "UIDREQUIRED");
      return true;
    }
  };
  assert.equal(refused("1:5"), true);
  assert.equal(refused("NOT OR SEEN 3"), true);
  assert.equal(refused("FLAGGED (UNSEEN *)"), true);
  assert.equal(refused("UID 1:5"), false);
  assert.equal(refused("$"), false);
  assert.equal(refused("UID $ SEEN"), false);
  // Without UIDONLY nothing is refused.
  refuseSequenceKeys(criteria("1:5"), parseContext([]));
});

test("FETCH responses start with the sequence number, or the UID and UIDFETCH", () => {
  assert.equal(fetchLead(false, 7, 42), "* 7 FETCH (");
  assert.equal(fetchLead(true, 7, 42), "* 42 UIDFETCH (");
});
