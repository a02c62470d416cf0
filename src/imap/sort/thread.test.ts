// THREAD algorithms (RFC 5256 §3) on hand-made inputs: the RFC's rules one by one, and a
// 50,000-message reply chain (no stack overflow, bounded time).
import assert from "node:assert/strict";
import { test } from "node:test";
import { baseSubject } from "./base-subject.js";
import { orderedSubjectThreads, referencesThreads, renderThreads, type ThreadMessage } from "./thread.js";

interface Spec {
  id?: string;
  refs?: string;
  irt?: string;
  subject?: string;
  sent?: number;
}

function inputs(specs: Spec[]): ThreadMessage[] {
  return specs.map((s, i) => {
    const subject = baseSubject(s.subject ?? "x");
    return { number: i + 1, seq: i + 1, sent: s.sent ?? i, subject: subject.key, isReply: subject.isReplyOrForward, messageId: s.id ?? null, inReplyTo: s.irt ?? null, references: s.refs ?? null };
  });
}

const refs = (specs: Spec[]): string => {
  const messages = inputs(specs);
  return renderThreads(referencesThreads(messages), messages);
};
const ordered = (specs: Spec[]): string => {
  const messages = inputs(specs);
  return renderThreads(orderedSubjectThreads(messages), messages);
};

test("REFERENCES links by References, then In-Reply-To, and renders RFC 5256 §4 thread lists", () => {
  assert.equal(refs([{ id: "<a@x>", subject: "a" }, { id: "<b@x>", refs: "<a@x>", subject: "b" }, { id: "<c@x>", refs: "<a@x> <b@x>", subject: "c" }]), "(1 2 3)");
  assert.equal(refs([{ id: "<a@x>", subject: "a" }, { id: "<b@x>", irt: "<a@x>", subject: "b" }, { id: "<c@x>", irt: "<a@x>", subject: "c" }]), "(1 (2)(3))");
  // A missing parent becomes a dummy: kept at the root with several children, not with one.
  assert.equal(refs([{ id: "<b@x>", refs: "<gone@x>", subject: "b" }, { id: "<c@x>", refs: "<gone@x>", subject: "c" }]), "((1)(2))");
  assert.equal(refs([{ id: "<b@x>", refs: "<gone@x>", subject: "b" }]), "(1)");
  // A non-root dummy is replaced by its children.
  assert.equal(refs([{ id: "<a@x>", subject: "a" }, { id: "<c@x>", refs: "<a@x> <gone@x>", subject: "c" }]), "(1 2)");
  // Message-IDs compare case-insensitively (the store may keep References folded).
  assert.equal(refs([{ id: "<A@X>", subject: "a" }, { id: "<b@x>", refs: "<a@x>", subject: "b" }]), "(1 2)");
});

test("REFERENCES refuses loops and breaks the previous parent (imaptest thread)", () => {
  assert.equal(refs([{ id: "<a@b>", subject: "" }, { id: "<b@b>", refs: "<a@b> <c@b>", subject: "" }, { id: "<c@b>", refs: "<b@b>", subject: "" }]), "(1)(3 2)");
  assert.equal(refs([{ id: "<a@x>", refs: "<a@x>" }]), "(1)");
  assert.equal(refs([{ id: "<a@x>", refs: "<b@x>" }, { id: "<b@x>", refs: "<a@x>" }]), "(2 1)");
  // A duplicate Message-ID gets its own container.
  assert.equal(refs([{ id: "<a@x>", subject: "one" }, { id: "<a@x>", subject: "two" }]), "(1)(2)");
});

test("REFERENCES groups roots by base subject (step 5) and sorts by sent date (step 6)", () => {
  // A reply without links joins the original of its subject.
  assert.equal(refs([{ id: "<a@x>", subject: "hello" }, { id: "<b@x>", subject: "Re: hello" }]), "(1 2)");
  // Two non-replies with one subject: under a new dummy.
  assert.equal(refs([{ id: "<a@x>", subject: "hello" }, { id: "<b@x>", subject: "hello" }]), "((1)(2))");
  // Empty subjects are not grouped.
  assert.equal(refs([{ id: "<a@x>", subject: "" }, { id: "<b@x>", subject: "" }]), "(1)(2)");
  // Siblings and roots by sent date, then sequence number.
  assert.equal(refs([{ id: "<a@x>", subject: "p", sent: 10 }, { id: "<b@x>", irt: "<a@x>", subject: "q", sent: 30 }, { id: "<c@x>", irt: "<a@x>", subject: "r", sent: 20 }, { id: "<d@x>", subject: "s", sent: 5 }]), "(4)(1 (3)(2))");
});

test("ORDEREDSUBJECT: one thread per base subject, the first by date the parent of the rest", () => {
  assert.equal(ordered([{ subject: "b", sent: 3 }, { subject: "a", sent: 2 }, { subject: "Re: b", sent: 1 }, { subject: "a", sent: 4 }, { subject: "c", sent: 0 }]), "(5)(3 1)(2 4)");
  assert.equal(ordered([{ subject: "a", sent: 1 }, { subject: "a", sent: 2 }, { subject: "re: a", sent: 3 }]), "(1 (2)(3))");
});

test("a 50,000-message reply chain threads without recursion", () => {
  const n = 50_000;
  const chain: Spec[] = [];
  for (let i = 0; i < n; i++) chain.push({ id: `<m${i}@x>`, irt: i === 0 ? undefined : `<m${i - 1}@x>`, subject: i === 0 ? "deep" : "Re: deep" });
  const messages = inputs(chain);
  const text = renderThreads(referencesThreads(messages), messages);
  assert.equal(text, `(${messages.map((m) => m.number).join(" ")})`);
  // Delivered newest first: every parent is a dummy until its message arrives.
  const reversed = inputs([...chain].reverse());
  assert.equal(renderThreads(referencesThreads(reversed), reversed), `(${reversed.map((m) => m.number).reverse().join(" ")})`);
  // A deep tree where each message has two replies, one continuing the chain: nested lists 25,000 deep.
  const forked: Spec[] = [];
  for (let i = 0; i < n / 2; i++) {
    forked.push({ id: `<f${i}@x>`, irt: i === 0 ? undefined : `<f${i - 1}@x>`, subject: "fork", sent: 2 * i });
    forked.push({ id: `<g${i}@x>`, irt: i === 0 ? undefined : `<f${i - 1}@x>`, subject: i === 0 ? "other" : "fork", sent: 2 * i + 1 });
  }
  const fm = inputs(forked);
  const out = renderThreads(referencesThreads(fm), fm);
  assert.ok(out.startsWith("(1 (3 (5"), out.slice(0, 20));
  assert.equal([...out].filter((c) => c === "(").length, [...out].filter((c) => c === ")").length);
  assert.equal(renderThreads(orderedSubjectThreads(fm), fm).length > 0, true);
});
