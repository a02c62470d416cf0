// The Sieve grammar (RFC 5228 §8.2) into a syntax tree, without meaning: which commands exist and
// what arguments they take is the validator's business (compile.ts). Nesting depth is bounded
// so a hostile script cannot exhaust the stack.
import { SieveSyntaxError, type Position } from "./errors.js";
import { tokenize, type Token } from "./lexer.js";

export type Argument =
  | { readonly kind: "string"; readonly value: string; readonly pos: Position }
  | { readonly kind: "list"; readonly values: readonly string[]; readonly pos: Position }
  | { readonly kind: "number"; readonly value: number; readonly pos: Position }
  | { readonly kind: "tag"; readonly value: string; readonly pos: Position };

export interface TestNode {
  readonly name: string;
  readonly pos: Position;
  readonly args: readonly Argument[];
  readonly tests: readonly TestNode[];
}

export interface CommandNode {
  readonly name: string;
  readonly pos: Position;
  readonly args: readonly Argument[];
  readonly tests: readonly TestNode[];
  readonly block: readonly CommandNode[] | null;
}

export interface ParseLimits {
  /** Deepest nesting of blocks and test lists. */
  readonly maxNesting: number;
  /** Most strings in one string list. */
  readonly maxListItems: number;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = { maxNesting: 32, maxListItems: 1024 };

export function parseScript(source: string, limits: ParseLimits = DEFAULT_PARSE_LIMITS): CommandNode[] {
  const tokens = tokenize(source);
  let at = 0;
  const peek = (): Token => tokens[at]!;
  const next = (): Token => tokens[at++]!;
  const describe = (t: Token): string => (t.kind === "eof" ? "end of script" : t.kind === "string" ? "a string" : `${t.kind} ${JSON.stringify(String(t.value))}`);
  const isPunct = (t: Token, v: string): boolean => t.kind === "punct" && t.value === v;
  const expectPunct = (v: string, what: string): void => {
    const t = next();
    if (!isPunct(t, v)) throw new SieveSyntaxError(t.pos, `expected ${what} but found ${describe(t)}`);
  };

  const argumentsOf = (depth: number): { args: Argument[]; tests: TestNode[] } => {
    const args: Argument[] = [];
    for (;;) {
      const t = peek();
      if (t.kind === "string") {
        next();
        args.push({ kind: "string", value: t.value, pos: t.pos });
      } else if (t.kind === "number") {
        next();
        args.push({ kind: "number", value: t.value, pos: t.pos });
      } else if (t.kind === "tag") {
        next();
        args.push({ kind: "tag", value: t.value, pos: t.pos });
      } else if (isPunct(t, "[")) {
        next();
        const values: string[] = [];
        for (;;) {
          const s = next();
          if (s.kind !== "string") throw new SieveSyntaxError(s.pos, `expected a string in the string list but found ${describe(s)}`);
          values.push(s.value);
          if (values.length > limits.maxListItems) throw new SieveSyntaxError(s.pos, `string list longer than ${limits.maxListItems} items`);
          const sep = next();
          if (isPunct(sep, "]")) break;
          if (!isPunct(sep, ",")) throw new SieveSyntaxError(sep.pos, `expected ',' or ']' but found ${describe(sep)}`);
        }
        args.push({ kind: "list", values, pos: t.pos });
      } else break;
    }
    const tests: TestNode[] = [];
    const t = peek();
    if (t.kind === "identifier") tests.push(test(depth));
    else if (isPunct(t, "(")) {
      next();
      if (depth + 1 > limits.maxNesting) throw new SieveSyntaxError(t.pos, `nesting deeper than ${limits.maxNesting} levels`);
      for (;;) {
        tests.push(test(depth + 1));
        const sep = next();
        if (isPunct(sep, ")")) break;
        if (!isPunct(sep, ",")) throw new SieveSyntaxError(sep.pos, `expected ',' or ')' but found ${describe(sep)}`);
      }
    }
    return { args, tests };
  };

  const test = (depth: number): TestNode => {
    const t = next();
    if (t.kind !== "identifier") throw new SieveSyntaxError(t.pos, `expected a test name but found ${describe(t)}`);
    if (depth + 1 > limits.maxNesting) throw new SieveSyntaxError(t.pos, `nesting deeper than ${limits.maxNesting} levels`);
    const { args, tests } = argumentsOf(depth + 1);
    return { name: t.value, pos: t.pos, args, tests };
  };

  const commands = (depth: number, inBlock: boolean): CommandNode[] => {
    const out: CommandNode[] = [];
    for (;;) {
      const t = peek();
      if (t.kind === "eof") {
        if (inBlock) throw new SieveSyntaxError(t.pos, "expected '}' but found end of script");
        return out;
      }
      if (isPunct(t, "}")) {
        if (!inBlock) throw new SieveSyntaxError(t.pos, "unexpected '}'");
        return out;
      }
      if (t.kind !== "identifier") throw new SieveSyntaxError(t.pos, `expected a command but found ${describe(t)}`);
      next();
      const { args, tests } = argumentsOf(depth);
      const end = next();
      if (isPunct(end, ";")) out.push({ name: t.value, pos: t.pos, args, tests, block: null });
      else if (isPunct(end, "{")) {
        if (depth + 1 > limits.maxNesting) throw new SieveSyntaxError(end.pos, `nesting deeper than ${limits.maxNesting} levels`);
        const block = commands(depth + 1, true);
        expectPunct("}", "'}'");
        out.push({ name: t.value, pos: t.pos, args, tests, block });
      } else throw new SieveSyntaxError(end.pos, `expected ';' or '{' after ${t.value} but found ${describe(end)}`);
    }
  };
  return commands(0, false);
}
