// RFC 5465 §8 grammar: NONE, SET [STATUS] with event groups, each filter kind, NONE as events,
// MessageNew's fetch attributes (selected filters only), and the refusals.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ArgumentReader } from "./arguments.js";
import { readNotify } from "./notify.js";
import { ImapParseError } from "./parse-error.js";

const parse = (line: string) => readNotify(ArgumentReader.ofLine(line), false);

test("NOTIFY NONE and SET with every filter kind", () => {
  assert.deepEqual(parse("NONE"), { kind: "none" });
  const request = parse('SET STATUS (inboxes (MessageNew MessageExpunge)) (subtree ("Lists" Work) NONE) (mailboxes Sent (MailboxName SubscriptionChange)) (personal (messagenew))');
  assert.equal(request.kind, "set");
  if (request.kind !== "set") return;
  assert.equal(request.status, true);
  assert.deepEqual(
    request.groups.map((g) => [g.filter, g.events]),
    [
      [{ kind: "inboxes" }, ["MessageNew", "MessageExpunge"]],
      [{ kind: "subtree", names: ["Lists", "Work"] }, []],
      [{ kind: "mailboxes", names: ["Sent"] }, ["MailboxName", "SubscriptionChange"]],
      [{ kind: "personal" }, ["MessageNew"]],
    ],
  );
});

test("MessageNew's fetch attributes are read as FETCH reads them, for SELECTED only", () => {
  const request = parse("SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (From Subject)]) MessageExpunge))");
  assert.equal(request.kind, "set");
  if (request.kind !== "set") return;
  const group = request.groups[0];
  assert.deepEqual(group?.events, ["MessageNew", "MessageExpunge"]);
  assert.deepEqual(group?.fetch?.items.map((i) => i.kind), ["uid", "body-section"]);
  assert.throws(() => parse("SET (personal (MessageNew (UID)))"), ImapParseError);
});

test("malformed requests are BAD", () => {
  for (const line of ["", "SET", "SET ()", "SET (personal)", "SET (personal ())", "SET (nowhere (MessageNew))", "SET (personal (Bogus))", "SET (personal (MessageNew MessageNew))", "SET (selected (MessageNew)) (selected-delayed NONE)", "NONE extra", "SET (subtree (MessageNew))"]) {
    assert.throws(() => parse(line), ImapParseError, line);
  }
});
