// Validation: a syntax tree (parser.ts) into the compiled form the interpreter runs. Checks that
// every extension used was required (RFC 5228 §3.2), that tags and positional arguments fit each
// command (specs.ts), that elsif/else follow an if, and applies encoded-character (RFC 5228
// §2.4.2.4) to string literals. Errors name the line:column.
import { BUILTIN_COMPARATORS, IMPLIED_EXTENSIONS, SIEVE_EXTENSIONS } from "./capabilities.js";
import { DATE_PARTS, parseZone } from "./dates.js";
import { invalidFieldValue, isFieldName } from "./editheader.js";
import { compileRegex, RegexSyntaxError } from "./regex.js";
import { SieveSyntaxError, type Position } from "./errors.js";
import { DEFAULT_PARSE_LIMITS, parseScript, type Argument, type CommandNode, type ParseLimits, type TestNode } from "./parser.js";
import { SPECS, type ArgType } from "./specs.js";

export type Value = string | readonly string[] | number;

export interface CompiledNode {
  readonly name: string;
  readonly pos: Position;
  /** Tag name -> its argument (true when the tag takes none). */
  readonly tags: ReadonlyMap<string, Value | true>;
  readonly positional: readonly Value[];
  readonly tests: readonly CompiledNode[];
  readonly block: readonly CompiledNode[] | null;
}

export interface CompiledScript {
  readonly extensions: ReadonlySet<string>;
  readonly commands: readonly CompiledNode[];
}

export function compileScript(source: string, limits: ParseLimits = DEFAULT_PARSE_LIMITS): CompiledScript {
  const tree = parseScript(source, limits);
  const extensions = new Set<string>();
  let requiresAllowed = true;
  const encoded = (): boolean => extensions.has("encoded-character");

  const decodeString = (value: string, pos: Position): string => (encoded() ? decodeEncodedCharacters(value, pos) : value);

  const node = (n: CommandNode | TestNode, isCommand: boolean): CompiledNode => {
    const spec = SPECS[n.name];
    if (!spec || spec.kind !== (isCommand ? "command" : "test")) {
      throw new SieveSyntaxError(n.pos, `unknown ${isCommand ? "command" : "test"} '${n.name}'`);
    }
    if (spec.requires && !extensions.has(spec.requires)) {
      throw new SieveSyntaxError(n.pos, `'${n.name}' needs require "${spec.requires}"`);
    }
    const tags = new Map<string, Value | true>();
    const groups = new Set<string>();
    const positional: Value[] = [];
    const args = n.args;
    let i = 0;
    for (; i < args.length; i++) {
      const arg = args[i]!;
      if (arg.kind !== "tag") break;
      const tag = `:${arg.value}`;
      const tagSpec = spec.tags[tag];
      if (!tagSpec) throw new SieveSyntaxError(arg.pos, `'${n.name}' takes no tag ${tag}`);
      if (tagSpec.requires && !extensions.has(tagSpec.requires)) throw new SieveSyntaxError(arg.pos, `${tag} needs require "${tagSpec.requires}"`);
      if (groups.has(tagSpec.group)) throw new SieveSyntaxError(arg.pos, `${tag} conflicts with an earlier ${tagSpec.group} tag`);
      groups.add(tagSpec.group);
      if (tagSpec.arg) {
        const value = args[i + 1];
        if (!value || value.kind === "tag") throw new SieveSyntaxError(arg.pos, `${tag} needs a ${tagSpec.arg} argument`);
        tags.set(tag, convert(value, tagSpec.arg, decodeString));
        i++;
      } else tags.set(tag, true);
    }
    const rest = args.slice(i);
    const need = spec.positional.length - (spec.optionalPositional ?? 0);
    if (rest.length < need || rest.length > spec.positional.length) {
      const bad = rest.find((a) => a.kind === "tag");
      if (bad && bad.kind === "tag") throw new SieveSyntaxError(bad.pos, `tag :${bad.value} must come before the positional arguments of '${n.name}'`);
      throw new SieveSyntaxError(n.pos, `'${n.name}' takes ${need === spec.positional.length ? need : `${need} to ${spec.positional.length}`} positional argument(s), found ${rest.length}`);
    }
    // With one optional leading argument (setflag's variable name), the given ones are the last ones.
    const types = spec.optionalTrailing ? spec.positional.slice(0, rest.length) : spec.positional.slice(spec.positional.length - rest.length);
    rest.forEach((arg, k) => positional.push(convert(arg, types[k]!, decodeString)));
    const testsOf = n.tests.map((t) => node(t, false));
    const testMode = spec.tests ?? "none";
    if (testMode === "none" && testsOf.length > 0) throw new SieveSyntaxError(n.tests[0]!.pos, `'${n.name}' takes no test`);
    if (testMode === "one" && testsOf.length !== 1) throw new SieveSyntaxError(n.pos, `'${n.name}' needs exactly one test`);
    if (testMode === "list" && testsOf.length === 0) throw new SieveSyntaxError(n.pos, `'${n.name}' needs a test list`);
    let block: CompiledNode[] | null = null;
    if (isCommand) {
      const c = n as CommandNode;
      if (spec.block && c.block === null) throw new SieveSyntaxError(n.pos, `'${n.name}' needs a block`);
      if (!spec.block && c.block !== null) throw new SieveSyntaxError(n.pos, `'${n.name}' takes no block`);
      if (c.block) block = commandList(c.block, false);
    }
    checkSemantics(n.name, n.pos, tags, positional, extensions);
    return { name: n.name, pos: n.pos, tags, positional, tests: testsOf, block };
  };

  const commandList = (nodes: readonly CommandNode[], topLevel: boolean): CompiledNode[] => {
    const out: CompiledNode[] = [];
    let previous: string | null = null;
    for (const n of nodes) {
      if (n.name === "require") {
        // RFC 5228 §3.2: require only at the start of the script.
        if (!topLevel || !requiresAllowed) throw new SieveSyntaxError(n.pos, "require must come before any other command");
        const arg = n.args[0];
        if (n.args.length !== 1 || !arg || (arg.kind !== "string" && arg.kind !== "list")) throw new SieveSyntaxError(n.pos, "require takes one string list");
        for (const name of arg.kind === "string" ? [arg.value] : arg.values) {
          const known = SIEVE_EXTENSIONS.includes(name) || BUILTIN_COMPARATORS.some((c) => `comparator-${c}` === name);
          if (!known) throw new SieveSyntaxError(arg.pos, `unsupported extension "${name}"`);
          extensions.add(name);
          for (const implied of IMPLIED_EXTENSIONS[name] ?? []) extensions.add(implied);
        }
        previous = "require";
        continue;
      }
      requiresAllowed = false;
      if ((n.name === "elsif" || n.name === "else") && previous !== "if" && previous !== "elsif") {
        throw new SieveSyntaxError(n.pos, `'${n.name}' must follow 'if' or 'elsif'`);
      }
      out.push(node(n, true));
      previous = n.name;
    }
    return out;
  };

  const commands = commandList(tree, true);
  return { extensions, commands };
}

function convert(arg: Argument, type: ArgType, decode: (s: string, pos: Position) => string): Value {
  if (type === "number") {
    if (arg.kind !== "number") throw new SieveSyntaxError(arg.pos, "expected a number");
    return arg.value;
  }
  if (arg.kind === "string") return type === "list" ? [decode(arg.value, arg.pos)] : decode(arg.value, arg.pos);
  if (arg.kind === "list") {
    if (type === "string") throw new SieveSyntaxError(arg.pos, "expected a single string, not a string list");
    return arg.values.map((v) => decode(v, arg.pos));
  }
  throw new SieveSyntaxError(arg.pos, `expected a ${type === "list" ? "string list" : "string"}`);
}

const ADDRESS_HEADERS = new Set([
  "from", "to", "cc", "bcc", "sender", "reply-to",
  "resent-from", "resent-to", "resent-cc", "resent-bcc", "resent-sender", "resent-reply-to",
  "return-receipt-to", "disposition-notification-to", "errors-to", "delivered-to", "envelope-to", "x-original-to",
]);

const RELATIONS = ["gt", "ge", "lt", "le", "eq", "ne"];

function checkSemantics(name: string, pos: Position, tags: ReadonlyMap<string, Value | true>, positional: readonly Value[], extensions: ReadonlySet<string>): void {
  const comparator = tags.get(":comparator");
  if (typeof comparator === "string") {
    const ok = BUILTIN_COMPARATORS.includes(comparator) || (comparator === "i;ascii-numeric" && extensions.has("comparator-i;ascii-numeric"));
    if (!ok) throw new SieveSyntaxError(pos, `comparator "${comparator}" is not available (require "comparator-${comparator}")`);
  }
  for (const rel of [":value", ":count"]) {
    const v = tags.get(rel);
    if (typeof v === "string" && !RELATIONS.includes(v.toLowerCase())) throw new SieveSyntaxError(pos, `${rel} needs one of ${RELATIONS.join(", ")}`);
  }
  if (name === "address" && Array.isArray(positional[0])) {
    // RFC 5228 §5.1: the address test is restricted to header fields that contain addresses.
    const bad = (positional[0] as readonly string[]).find((h) => !h.includes("${") && !ADDRESS_HEADERS.has(h.toLowerCase()));
    if (bad !== undefined) throw new SieveSyntaxError(pos, `header "${bad}" holds no addresses and is not allowed in the address test`);
  }
  if (name === "size" && !tags.has(":over") && !tags.has(":under")) throw new SieveSyntaxError(pos, "size needs :over or :under");
  if (name === "set" && typeof positional[0] === "string" && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(positional[0])) {
    throw new SieveSyntaxError(pos, `invalid variable name "${positional[0]}"`);
  }
  if (name === "date" || name === "currentdate") {
    // RFC 5260 §4.2, §4.1: an unknown date-part or a malformed zone is an error (when not a variable).
    const part = positional[name === "date" ? 1 : 0];
    if (typeof part === "string" && !part.includes("${") && !(DATE_PARTS as readonly string[]).includes(part.toLowerCase())) {
      throw new SieveSyntaxError(pos, `unknown date-part "${part}" (one of ${DATE_PARTS.join(", ")})`);
    }
    const zone = tags.get(":zone");
    if (typeof zone === "string" && !zone.includes("${") && parseZone(zone) === null) throw new SieveSyntaxError(pos, `:zone needs "+hhmm" or "-hhmm", not "${zone}"`);
  }
  if (name === "global") {
    // RFC 6609 §3.4: global needs variables; its names are variable names.
    if (!extensions.has("variables")) throw new SieveSyntaxError(pos, `'global' needs require "variables"`);
    const bad = (positional[0] as readonly string[]).find((v) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v));
    if (bad !== undefined) throw new SieveSyntaxError(pos, `invalid variable name "${bad}"`);
  }
  if (name === "include") {
    // RFC 6609 §3.2: the name is a constant (it is resolved before the script runs) and a plain script name.
    const script = positional[0] as string;
    if (script === "" || script.includes("${") || /[/\u0000-\u001f]/.test(script)) throw new SieveSyntaxError(pos, `invalid script name "${script}" for include`);
  }
  if (tags.has(":regex")) {
    // draft-ietf-sieve-regex §3: a key that is not a valid regular expression is an error; keys
    // holding variables are compiled when the script runs.
    const keys = positional[positional.length - 1];
    const caseless = (typeof comparator === "string" ? comparator : "i;ascii-casemap") === "i;ascii-casemap";
    for (const key of typeof keys === "string" ? [keys] : Array.isArray(keys) ? (keys as readonly string[]) : []) {
      if (extensions.has("variables") && key.includes("${")) continue;
      try {
        compileRegex(key, caseless, 10_000);
      } catch (error) {
        if (error instanceof RegexSyntaxError) throw new SieveSyntaxError(pos, error.message);
        throw error;
      }
    }
    if (comparator === "i;ascii-numeric") throw new SieveSyntaxError(pos, "i;ascii-numeric does not support :regex");
  }
  if (name === "addheader" || name === "deleteheader") {
    // RFC 5293 §4/§5: an invalid field name is an error, found here when it is a constant; a
    // value with a bare line break (or NUL) is refused as Pigeonhole refuses it.
    const field = positional[0] as string;
    if (!field.includes("${") && !isFieldName(field)) throw new SieveSyntaxError(pos, `${name}: invalid header field name "${field}"`);
    const value = positional[1];
    if (name === "addheader" && typeof value === "string" && !value.includes("${")) {
      const bad = invalidFieldValue(value);
      if (bad !== null) throw new SieveSyntaxError(pos, `addheader: ${bad}`);
    }
  }
  if (tags.has(":last") && !tags.has(":index") && name !== "duplicate" && name !== "addheader") throw new SieveSyntaxError(pos, ":last needs :index (RFC 5260 §6)");
  const index = tags.get(":index");
  if (typeof index === "number" && index < 1) throw new SieveSyntaxError(pos, ":index counts from 1");
}

/**
 * RFC 5228 §2.4.2.4: ${hex:...} and ${unicode:...} in string literals. A malformed sequence is
 * left as it is; a unicode value outside Unicode (or a surrogate) is an error.
 */
export function decodeEncodedCharacters(value: string, pos: Position): string {
  return value.replace(/\$\{(hex|unicode):([\s0-9A-Fa-f]*)\}/gi, (whole, kind: string, body: string) => {
    const items = body.trim() === "" ? [] : body.trim().split(/\s+/);
    if (items.length === 0) return whole;
    if (kind.toLowerCase() === "hex") {
      if (items.some((h) => h.length > 2 && !/^0*[0-9a-f]{1,2}$/i.test(h))) return whole;
      return Buffer.from(items.map((h) => parseInt(h, 16))).toString("utf8");
    }
    let out = "";
    for (const h of items) {
      const cp = parseInt(h, 16);
      if (!Number.isFinite(cp) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new SieveSyntaxError(pos, `invalid unicode character ${h} in encoded-character`);
      out += String.fromCodePoint(cp);
    }
    return out;
  });
}
