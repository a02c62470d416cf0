// THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 §3) over plain inputs, and the
// thread-list text of the untagged THREAD response (RFC 5256 §4). Every walk is iterative (an
// explicit stack or a loop up parent links): a 50,000-message reply chain is a 50,000-deep tree
// and must not touch the call stack. Containers are integer indexes into arrays, not objects.
import { foldCase } from "../../mail/case-fold.js";

export interface ThreadMessage {
  /** What the response names the message by: its sequence number or, for UID THREAD, its UID. */
  number: number;
  /** Sequence number: the last tie-break of every ordering. */
  seq: number;
  /** Sent date in ms (RFC 5256 §2.2; the INTERNALDATE when the Date: header is unreadable). */
  sent: number;
  /** Base subject (RFC 5256 §2.1) in comparator form, and whether extraction removed a reply/forward marker. */
  subject: string;
  isReply: boolean;
  /** Raw Message-ID, In-Reply-To and References values (null when absent). */
  messageId: string | null;
  inReplyTo: string | null;
  references: string | null;
}

/** A thread tree: message = index into the input array, or -1 for a dummy (RFC 5256 §3 "dummy"). */
export interface ThreadNode {
  message: number;
  children: ThreadNode[];
}

const MSG_ID = /<[^<>]*>/g;
const ASCII = /^[\x00-\x7f]*$/;

/** The msg-ids of a field value, folded (SQLite keeps References folded: compare every id folded). */
function messageIds(value: string | null): string[] {
  if (value === null) return [];
  const out: string[] = [];
  for (const match of value.matchAll(MSG_ID)) {
    const raw = match[0].replace(/\s+/g, "");
    // ASCII (nearly every msg-id) folds as lower case; foldCase is the full fold for the rest.
    const id = ASCII.test(raw) ? raw.toLowerCase() : foldCase(raw);
    if (id.length > 2) out.push(id);
  }
  return out;
}

/**
 * RFC 5256 §3 ORDEREDSUBJECT: messages grouped by base subject; within a group ordered by sent
 * date, the first is the parent of all the others; groups ordered by their first message's date.
 */
export function orderedSubjectThreads(messages: readonly ThreadMessage[]): ThreadNode[] {
  const order = messages.map((_, i) => i).sort((a, b) => {
    const x = messages[a]!;
    const y = messages[b]!;
    if (x.subject !== y.subject) return x.subject < y.subject ? -1 : 1;
    return x.sent - y.sent || x.seq - y.seq;
  });
  const roots: ThreadNode[] = [];
  let current: ThreadNode | null = null;
  for (const i of order) {
    if (current !== null && messages[current.message]!.subject === messages[i]!.subject) current.children.push({ message: i, children: [] });
    else roots.push((current = { message: i, children: [] }));
  }
  return roots.sort((a, b) => compareMessages(messages, a.message, b.message));
}

function compareMessages(messages: readonly ThreadMessage[], a: number, b: number): number {
  const x = messages[a]!;
  const y = messages[b]!;
  return x.sent - y.sent || x.seq - y.seq;
}

/** RFC 5256 §3 REFERENCES, steps (1) to (6). */
export function referencesThreads(messages: readonly ThreadMessage[]): ThreadNode[] {
  // (1) Containers: message index (or -1 for a dummy), parent, number of children.
  const message: number[] = [];
  const parent: number[] = [];
  const childCount: number[] = [];
  const byId = new Map<string, number>();
  const container = (id: string | null, msg: number): number => {
    const c = message.length;
    message.push(msg);
    parent.push(-1);
    childCount.push(0);
    if (id !== null) byId.set(id, c);
    return c;
  };
  const lookup = (id: string): number => byId.get(id) ?? container(id, -1);
  /** Whether `ancestor` is `node` or above it: walked up the parent links (no recursion). */
  const isAncestorOrSelf = (ancestor: number, node: number): boolean => {
    if (childCount[ancestor] === 0) return ancestor === node;
    for (let at = node; at !== -1; at = parent[at]!) if (at === ancestor) return true;
    return false;
  };
  const link = (child: number, to: number): void => {
    parent[child] = to;
    childCount[to]!++;
  };
  const unlink = (child: number): void => {
    const was = parent[child]!;
    if (was !== -1) childCount[was]!--;
    parent[child] = -1;
  };
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    // (1A) A message without a usable Message-ID, or with one already held by another message, gets its own container.
    const ownId = messageIds(m.messageId)[0] ?? null;
    let self: number;
    const existing = ownId === null ? undefined : byId.get(ownId);
    if (existing !== undefined && message[existing] === -1) {
      self = existing;
      message[self] = i;
    } else self = container(existing === undefined ? ownId : null, i);
    // (1B) Link the References chain, keeping existing links and refusing loops.
    let refs = messageIds(m.references);
    // Without References, the first msg-id of In-Reply-To names the parent.
    if (refs.length === 0) refs = messageIds(m.inReplyTo).slice(0, 1);
    let previous = -1;
    for (const id of refs) {
      const c = lookup(id);
      if (previous !== -1 && previous !== c && parent[c] === -1 && !isAncestorOrSelf(c, previous)) link(c, previous);
      previous = c;
    }
    // (1C) The last reference is this message's parent: any earlier link is broken first, and
    // the new one is not made when it would close a loop (then the message is a root).
    if (parent[self] !== previous) {
      unlink(self);
      if (previous !== -1 && previous !== self && !isAncestorOrSelf(self, previous)) link(self, previous);
    }
  }
  // (2)-(3) Children lists from the parent links, in container order; roots are the parentless.
  const children: number[][] = message.map(() => []);
  const rootSet: number[] = [];
  for (let c = 0; c < message.length; c++) {
    const p = parent[c]!;
    if (p === -1) rootSet.push(c);
    else children[p]!.push(c);
  }
  // (4) Prune dummies, children first (post-order with an explicit stack): a dummy without
  // children goes; a non-root dummy is replaced by its children; a root dummy with one child is
  // replaced by that child; a root dummy with several stays.
  const pruned: number[][] = message.map(() => []);
  const postOrder = (root: number, visit: (c: number) => void): void => {
    const stack: [number, number][] = [[root, 0]];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const kids = children[top[0]]!;
      if (top[1] < kids.length) stack.push([kids[top[1]++]!, 0]);
      else {
        stack.pop();
        visit(top[0]);
      }
    }
  };
  for (const root of rootSet) {
    postOrder(root, (c) => {
      const kept: number[] = [];
      for (const k of children[c]!) {
        if (message[k] !== -1) kept.push(k);
        else for (const g of pruned[k]!) kept.push(g);
      }
      pruned[c] = kept;
    });
  }
  let roots: number[] = [];
  for (const root of rootSet) {
    if (message[root] !== -1) roots.push(root);
    else if (pruned[root]!.length === 1) roots.push(pruned[root]![0]!);
    else if (pruned[root]!.length > 1) roots.push(root);
  }
  // (5) Group the roots by base subject.
  const subjectOf = (c: number): string => messages[message[c] !== -1 ? message[c]! : message[pruned[c]![0]!]!]!.subject;
  const isDummy = (c: number): boolean => message[c] === -1;
  const isReplyRoot = (c: number): boolean => !isDummy(c) && messages[message[c]!]!.isReply;
  const table = new Map<string, number>();
  for (const c of roots) {
    const subject = subjectOf(c);
    if (subject === "") continue;
    const old = table.get(subject);
    if (old === undefined || (isDummy(c) && !isDummy(old)) || (!isDummy(old) && !isDummy(c) && isReplyRoot(old) && !isReplyRoot(c))) table.set(subject, c);
  }
  const merged = new Set<number>();
  const extra: number[] = [];
  for (const c of roots) {
    const subject = subjectOf(c);
    if (subject === "") continue;
    const t = table.get(subject)!;
    if (t === c) continue;
    merged.add(c);
    if (isDummy(t) && isDummy(c)) {
      for (const k of pruned[c]!) pruned[t]!.push(k);
    } else if (isDummy(t)) {
      pruned[t]!.push(c);
    } else if (isDummy(c)) {
      pruned[c]!.push(t);
      merged.add(t);
      merged.delete(c);
      table.set(subject, c);
    } else if (!isReplyRoot(t) && isReplyRoot(c)) {
      pruned[t]!.push(c);
    } else {
      const d = message.length;
      message.push(-1);
      pruned.push([t, c]);
      merged.add(t);
      extra.push(d);
      table.set(subject, d);
    }
  }
  roots = [...roots, ...extra].filter((c) => !merged.has(c));
  // (6) Siblings by sent date (a dummy by its first child's, once its children are ordered),
  // then sequence number; the roots likewise. Built bottom-up without recursion.
  const dateOf: number[] = [];
  const seqOf: number[] = [];
  const nodes: ThreadNode[] = [];
  const build = (root: number): ThreadNode => {
    const stack: [number, number][] = [[root, 0]];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const kids = pruned[top[0]]!;
      if (top[1] < kids.length) {
        stack.push([kids[top[1]++]!, 0]);
        continue;
      }
      stack.pop();
      const c = top[0];
      const ordered = [...kids].sort((a, b) => dateOf[a]! - dateOf[b]! || seqOf[a]! - seqOf[b]!);
      const first = ordered[0];
      if (message[c] !== -1) {
        dateOf[c] = messages[message[c]!]!.sent;
        seqOf[c] = messages[message[c]!]!.seq;
      } else {
        dateOf[c] = first === undefined ? 0 : dateOf[first]!;
        seqOf[c] = first === undefined ? 0 : seqOf[first]!;
      }
      nodes[c] = { message: message[c]!, children: ordered.map((k) => nodes[k]!) };
    }
    return nodes[root]!;
  };
  const trees = roots.map(build);
  const rootOrder = roots.map((c, i) => ({ i, date: dateOf[c]!, seq: seqOf[c]! })).sort((a, b) => a.date - b.date || a.seq - b.seq);
  return rootOrder.map((r) => trees[r.i]!);
}

/**
 * RFC 5256 §4 thread-list text: `(3 6 (4 23)(44 7 96))` — a single child follows its parent
 * after a space, several children are each parenthesised; a dummy has no number. Written with
 * an explicit stack.
 */
export function renderThreads(roots: readonly ThreadNode[], messages: readonly ThreadMessage[]): string {
  const out: string[] = [];
  const stack: (ThreadNode | string)[] = [];
  for (let r = roots.length - 1; r >= 0; r--) stack.push(")", roots[r]!, "(");
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item === "string") {
      out.push(item);
      continue;
    }
    const dummy = item.message === -1;
    if (!dummy) out.push(String(messages[item.message]!.number));
    if (item.children.length === 0) continue;
    if (!dummy && item.children.length === 1) {
      out.push(" ");
      stack.push(item.children[0]!);
      continue;
    }
    if (!dummy) out.push(" ");
    for (let k = item.children.length - 1; k >= 0; k--) stack.push(")", item.children[k]!, "(");
  }
  return out.join("");
}
