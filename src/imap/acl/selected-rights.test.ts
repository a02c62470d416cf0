// What the IMAP layer derives from RFC 4314 rights (§4) and the shared namespace's names.
import assert from "node:assert/strict";
import { test } from "node:test";
import { changeableFlags, mayChangeSomeFlag, permanentFlagsFor, readOnlyFor, replacedWithinRights, rightForFlag } from "./selected-rights.js";
import { parseSharedName, sharedName } from "./mailbox-access.js";

test("selected mailbox: \\Seen needs s, \\Deleted t, other flags w; no change right opens read-only", () => {
  assert.equal(rightForFlag("\\Seen"), "s");
  assert.equal(rightForFlag("\\SEEN"), "s");
  assert.equal(rightForFlag("\\Deleted"), "t");
  assert.equal(rightForFlag("\\Flagged"), "w");
  assert.equal(rightForFlag("$Label"), "w");
  assert.deepEqual(permanentFlagsFor(["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\*"], "lrs"), ["\\Seen"]);
  assert.deepEqual(permanentFlagsFor(["\\Answered", "\\Deleted", "\\Seen", "\\*"], "lrwt"), ["\\Answered", "\\Deleted", "\\*"]);
  assert.ok(readOnlyFor("lr"));
  assert.ok(readOnlyFor("lrip"), "inserting needs no write access to the selected messages");
  assert.ok(!readOnlyFor("lrs"));
  assert.ok(!readOnlyFor("lre"));
});

test("STORE under some of s, t, w: the flags it may change are changed, the others left alone (RFC 4314 §4)", () => {
  assert.deepEqual(changeableFlags(["\\Seen", "\\Flagged", "\\Deleted"], "lrs"), ["\\Seen"]);
  assert.deepEqual(changeableFlags([], "lr"), [], "an empty list changes nothing and is no error");
  assert.throws(() => changeableFlags(["\\Flagged", "$Junk"], "lrs"), /NOPERM|"w" right/);
  assert.ok(mayChangeSomeFlag("lrt"));
  assert.ok(!mayChangeSomeFlag("lrie"));
  // FLAGS (\Seen $Junk) with "s" only: \Seen as asked, the message's other flags kept.
  assert.deepEqual(replacedWithinRights(["\\Seen", "$Junk"], ["\\Flagged", "\\Deleted"], "lrs"), ["\\Seen", "\\Flagged", "\\Deleted"]);
  // With "w" and "t" but not "s": the message's \Seen stays whatever FLAGS says.
  assert.deepEqual(replacedWithinRights(["$Junk"], ["\\Seen", "\\Flagged", "\\Deleted"], "lrwt"), ["$Junk", "\\Seen"]);
});

test("shared namespace names: Shared/<owner>/<mailbox> and its \\Noselect levels", () => {
  assert.equal(sharedName("alice@example.org", "Team/Plans"), "Shared/alice@example.org/Team/Plans");
  assert.deepEqual(parseSharedName("Shared/alice@example.org/Team/Plans"), { kind: "mailbox", ownerAddress: "alice@example.org", name: "Team/Plans" });
  assert.deepEqual(parseSharedName("Shared/alice@example.org"), { kind: "level", ownerAddress: "alice@example.org" });
  assert.equal(parseSharedName("Shared"), null, "a personal name: the level is only listed");
  assert.equal(parseSharedName("Shared/Plans"), null, "no address: a personal name");
  assert.equal(parseSharedName("Sharedfolder"), null);
  assert.equal(parseSharedName("INBOX"), null);
  assert.equal(parseSharedName("shared/alice@example.org/INBOX"), null, "the prefix is case-sensitive like other names");
});
