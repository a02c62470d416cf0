// The :regex match type (draft-ietf-sieve-regex-01): POSIX extended regular expressions (as
// Pigeonhole's regcomp(REG_EXTENDED)) run by a Pike VM, a linear-time matcher: every input
// position advances every live thread once, threads are deduplicated by program counter, so time
// is O(input x program) and no pattern backtracks ("regex bombs" such as (a+)+$ cost the same as
// a+$). Two bounds keep that product small: the program size (sieve.max_regex_states) and the
// total VM steps of one script run (sieve.max_regex_steps, a run-time error: implicit keep).
//
// Matching is leftmost-longest for the whole match, as POSIX asks; groups are those of the
// highest-priority thread that produced it (greedy quantifiers, earlier alternatives first).
// Supported: literals, ".", bracket expressions with ranges, negation and [:class:] names, "^",
// "$", groups, "|", "*", "+", "?", "{m}", "{m,}", "{m,n}", backslash-escaped literals.

export class RegexSyntaxError extends Error {
  override readonly name = "RegexSyntaxError";
}

export class RegexBudgetError extends Error {
  override readonly name = "RegexBudgetError";
}

type CharTest = (cp: number) => boolean;

type Node =
  | { readonly kind: "char"; readonly test: CharTest }
  | { readonly kind: "bol" }
  | { readonly kind: "eol" }
  | { readonly kind: "group"; readonly index: number; readonly body: Node }
  | { readonly kind: "seq"; readonly items: readonly Node[] }
  | { readonly kind: "alt"; readonly options: readonly Node[] }
  | { readonly kind: "repeat"; readonly body: Node; readonly min: number; readonly max: number };

type Inst =
  | { op: "char"; test: CharTest }
  | { op: "split"; x: number; y: number }
  | { op: "jmp"; x: number }
  | { op: "save"; slot: number }
  | { op: "bol" }
  | { op: "eol" }
  | { op: "match" };

export interface CompiledRegex {
  readonly program: readonly Inst[];
  readonly groups: number;
}

const lower = (cp: number): number => (cp >= 0x41 && cp <= 0x5a ? cp + 32 : cp);
const upper = (cp: number): number => (cp >= 0x61 && cp <= 0x7a ? cp - 32 : cp);

const CLASSES: Record<string, CharTest> = {
  alpha: (c) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a),
  digit: (c) => c >= 0x30 && c <= 0x39,
  alnum: (c) => CLASSES["alpha"]!(c) || CLASSES["digit"]!(c),
  upper: (c) => c >= 0x41 && c <= 0x5a,
  lower: (c) => c >= 0x61 && c <= 0x7a,
  space: (c) => c === 0x20 || (c >= 0x09 && c <= 0x0d),
  blank: (c) => c === 0x20 || c === 0x09,
  punct: (c) => (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e),
  print: (c) => c >= 0x20 && c !== 0x7f,
  graph: (c) => c > 0x20 && c !== 0x7f,
  cntrl: (c) => c < 0x20 || c === 0x7f,
  xdigit: (c) => CLASSES["digit"]!(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66),
};

/** Parses and compiles `pattern`; `caseless` is the i;ascii-casemap comparator (REG_ICASE for ASCII). */
export function compileRegex(pattern: string, caseless: boolean, maxStates: number): CompiledRegex {
  // UTF-16 code units, as the input is read: a character outside the BMP is two units on both sides.
  const cps = Array.from({ length: pattern.length }, (_, i) => pattern.charCodeAt(i));
  let at = 0;
  let groups = 0;
  const fold = (test: CharTest): CharTest => (caseless ? (c) => test(c) || test(lower(c)) || test(upper(c)) : test);
  const fail = (why: string): never => {
    throw new RegexSyntaxError(`invalid regular expression "${pattern}": ${why}`);
  };

  const parseAlt = (depth: number): Node => {
    if (depth > 100) fail("groups nested too deeply");
    const options = [parseSeq(depth)];
    while (cps[at] === 0x7c) {
      at++;
      options.push(parseSeq(depth));
    }
    return options.length === 1 ? options[0]! : { kind: "alt", options };
  };

  const parseSeq = (depth: number): Node => {
    const items: Node[] = [];
    while (at < cps.length && cps[at] !== 0x7c && cps[at] !== 0x29) {
      let atom = parseAtom(depth);
      for (;;) {
        const q = cps[at];
        if (q === 0x2a) {
          at++;
          atom = { kind: "repeat", body: atom, min: 0, max: Infinity };
        } else if (q === 0x2b) {
          at++;
          atom = { kind: "repeat", body: atom, min: 1, max: Infinity };
        } else if (q === 0x3f) {
          at++;
          atom = { kind: "repeat", body: atom, min: 0, max: 1 };
        } else if (q === 0x7b && /^\{\d+(,\d*)?\}/.test(pattern.slice(at, at + 24))) {
          const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(at, at + 24))!;
          at += m[0].length;
          const min = Number(m[1]);
          const max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
          if (min > 1000 || (max !== Infinity && max > 1000) || max < min) fail("bad repetition bounds (at most 1000)");
          atom = { kind: "repeat", body: atom, min, max };
        } else break;
      }
      items.push(atom);
    }
    return { kind: "seq", items };
  };

  const parseAtom = (depth: number): Node => {
    const c = cps[at++]!;
    switch (c) {
      case 0x28: {
        const index = ++groups;
        const body = parseAlt(depth + 1);
        if (cps[at] !== 0x29) fail("unbalanced (");
        at++;
        return { kind: "group", index, body };
      }
      case 0x2e:
        // Without REG_NEWLINE (Pigeonhole compiles without it) "." matches a line break too.
        return { kind: "char", test: () => true };
      case 0x5e:
        return { kind: "bol" };
      case 0x24:
        return { kind: "eol" };
      case 0x5b:
        return { kind: "char", test: fold(parseBracket()) };
      case 0x5c: {
        if (at >= cps.length) fail("trailing backslash");
        const e = cps[at++]!;
        if (e >= 0x31 && e <= 0x39) fail("back-references are not part of extended regular expressions");
        return { kind: "char", test: fold((x) => x === e) };
      }
      case 0x2a:
      case 0x2b:
      case 0x3f:
        return fail("repetition operator with nothing to repeat");
      default:
        return { kind: "char", test: fold((x) => x === c) };
    }
  };

  const parseBracket = (): CharTest => {
    let negate = false;
    if (cps[at] === 0x5e) {
      negate = true;
      at++;
    }
    const tests: CharTest[] = [];
    let first = true;
    for (;;) {
      if (at >= cps.length) fail("unbalanced [");
      const c = cps[at]!;
      if (c === 0x5d && !first) {
        at++;
        break;
      }
      first = false;
      if (c === 0x5b && cps[at + 1] === 0x3a) {
        const end = pattern.slice(at).indexOf(":]");
        const name = end < 0 ? "" : pattern.slice(at + 2, at + end);
        const test = CLASSES[name];
        if (!test) fail(`unknown character class [:${name}:]`);
        tests.push(test!);
        at += end + 2;
        continue;
      }
      at++;
      if (cps[at] === 0x2d && cps[at + 1] !== undefined && cps[at + 1] !== 0x5d) {
        const hi = cps[at + 1]!;
        at += 2;
        if (hi < c) fail("range out of order");
        tests.push((x) => x >= c && x <= hi);
      } else tests.push((x) => x === c);
    }
    return negate ? (x) => !tests.some((t) => t(x)) : (x) => tests.some((t) => t(x));
  };

  const tree = parseAlt(0);
  if (at < cps.length) fail("unbalanced )");

  const program: Inst[] = [];
  const emit = (inst: Inst): number => {
    if (program.length >= maxStates) throw new RegexSyntaxError(`regular expression "${pattern.slice(0, 80)}" needs more than ${maxStates} states (sieve.max_regex_states)`);
    program.push(inst);
    return program.length - 1;
  };
  const gen = (node: Node): void => {
    switch (node.kind) {
      case "char":
        emit({ op: "char", test: node.test });
        return;
      case "bol":
        emit({ op: "bol" });
        return;
      case "eol":
        emit({ op: "eol" });
        return;
      case "group":
        emit({ op: "save", slot: node.index * 2 });
        gen(node.body);
        emit({ op: "save", slot: node.index * 2 + 1 });
        return;
      case "seq":
        for (const item of node.items) gen(item);
        return;
      case "alt": {
        const jumps: number[] = [];
        node.options.forEach((option, i) => {
          if (i < node.options.length - 1) {
            const split = emit({ op: "split", x: 0, y: 0 });
            (program[split] as { x: number }).x = program.length;
            gen(option);
            jumps.push(emit({ op: "jmp", x: 0 }));
            (program[split] as { y: number }).y = program.length;
          } else gen(option);
        });
        for (const j of jumps) (program[j] as { x: number }).x = program.length;
        return;
      }
      case "repeat": {
        for (let i = 0; i < node.min; i++) gen(node.body);
        if (node.max === Infinity) {
          const split = emit({ op: "split", x: 0, y: 0 });
          (program[split] as { x: number }).x = program.length;
          gen(node.body);
          emit({ op: "jmp", x: split });
          (program[split] as { y: number }).y = program.length;
        } else {
          const ends: number[] = [];
          for (let i = node.min; i < node.max; i++) {
            const split = emit({ op: "split", x: 0, y: 0 });
            (program[split] as { x: number }).x = program.length;
            ends.push(split);
            gen(node.body);
          }
          for (const s of ends) (program[s] as { y: number }).y = program.length;
        }
        return;
      }
    }
  };
  emit({ op: "save", slot: 0 });
  gen(tree);
  emit({ op: "save", slot: 1 });
  emit({ op: "match" });
  return { program, groups };
}

/** A step budget shared by every regex of one script run. */
export interface RegexBudget {
  steps: number;
}

/**
 * Searches `value` for the regex; on a match returns [${0}, ${1}, ...] (unset groups are ""), else
 * null. Throws RegexBudgetError once the run's budget is spent.
 */
export function regexSearch(re: CompiledRegex, value: string, budget: RegexBudget): string[] | null {
  const length = value.length;
  const slots = (re.groups + 1) * 2;
  type Thread = { pc: number; caps: Int32Array };
  const program = re.program;
  let best: Int32Array | null = null;

  const addThread = (list: Thread[], seen: Uint8Array, pc: number, caps: Int32Array, pos: number): void => {
    // An explicit stack: a deep chain of splits cannot overflow the JavaScript stack.
    const stack: { pc: number; caps: Int32Array }[] = [{ pc, caps }];
    while (stack.length > 0) {
      const t = stack.pop()!;
      if (seen[t.pc]) continue;
      seen[t.pc] = 1;
      if (--budget.steps < 0) throw new RegexBudgetError("regular expression step limit reached (sieve.max_regex_steps)");
      const inst = program[t.pc]!;
      switch (inst.op) {
        case "jmp":
          stack.push({ pc: inst.x, caps: t.caps });
          break;
        case "split":
          // Pushed in reverse so x (the preferred branch) is explored first.
          stack.push({ pc: inst.y, caps: t.caps }, { pc: inst.x, caps: t.caps });
          break;
        case "save": {
          const caps = t.caps.slice();
          caps[inst.slot] = pos;
          stack.push({ pc: t.pc + 1, caps });
          break;
        }
        case "bol":
          if (pos === 0) stack.push({ pc: t.pc + 1, caps: t.caps });
          break;
        case "eol":
          if (pos === length) stack.push({ pc: t.pc + 1, caps: t.caps });
          break;
        default:
          list.push(t);
      }
    }
  };

  let current: Thread[] = [];
  for (let pos = 0; pos <= length; pos++) {
    // Leftmost: new attempts start only until some match has been found.
    if (best === null) {
      const seen = new Uint8Array(program.length);
      for (const t of current) seen[t.pc] = 1;
      const fresh: Thread[] = [];
      addThread(fresh, seen, 0, new Int32Array(slots).fill(-1), pos);
      current = current.concat(fresh);
    }
    if (current.length === 0) break;
    const next: Thread[] = [];
    const seen = new Uint8Array(program.length);
    for (const t of current) {
      const inst = program[t.pc]!;
      if (inst.op === "match") {
        // Leftmost, then longest (POSIX): an earlier start wins, then a later end.
        if (best === null || t.caps[0]! < best[0]! || (t.caps[0] === best[0] && t.caps[1]! > best[1]!)) best = t.caps;
        continue;
      }
      if (best !== null && t.caps[0]! > best[0]!) continue;
      if (inst.op === "char" && pos < length && inst.test(value.charCodeAt(pos))) addThread(next, seen, t.pc + 1, t.caps, pos + 1);
    }
    current = next;
  }
  if (best === null) return null;
  const out: string[] = [];
  for (let g = 0; g <= re.groups; g++) {
    const a = best[g * 2]!;
    const b = best[g * 2 + 1]!;
    out.push(a >= 0 && b >= 0 ? value.slice(a, b) : "");
  }
  return out;
}
