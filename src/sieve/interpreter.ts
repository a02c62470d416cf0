// Runs a compiled script against one message for one recipient and returns the actions
// (RFC 5228 §2.10): explicit ones in order, then the implicit keep unless something cancelled it.
// The interpreter only decides; delivery (src/delivery/sieve-delivery.ts) carries the actions out.
// Limits stop a run with SieveRuntimeError, which the caller turns into an implicit keep.
import type { CompiledNode, CompiledScript, Value } from "./compile.js";
import { DuplicateLookupNeeded, SieveRuntimeError } from "./errors.js";
import { datePart, parseDateTime, parseZone, type DatePart, type ZonedInstant } from "./dates.js";
import { matchAny, type Comparator, type MatchSpec, type RegexRun, type Relation } from "./match.js";
import { RegexBudgetError, RegexSyntaxError } from "./regex.js";
import { addressValues, headerValues, type SieveEnvelope, type SieveMessage } from "./message.js";
import { decodeEncodedWords } from "../mail/header-fields.js";
import { editableHeader, fieldEntry, formatField, invalidFieldValue, isFieldName, mayAdd, mayDelete, serializeHeader, type EditableHeader, type EditedHeader } from "./editheader.js";

/**
 * RFC 5293: an action that files or sends the message carries `edited` when the script had
 * changed the header by the time the action ran (absent: the message as received).
 */
interface Edited {
  readonly edited?: EditedHeader;
}

export type SieveAction =
  | ({ readonly type: "keep"; readonly flags: readonly string[] } & Edited)
  | ({ readonly type: "fileinto"; readonly mailbox: string; readonly flags: readonly string[]; readonly create: boolean; readonly copy: boolean } & Edited)
  | { readonly type: "discard" }
  | { readonly type: "reject"; readonly reason: string; readonly extended: boolean }
  | ({ readonly type: "redirect"; readonly address: string; readonly copy: boolean } & Edited)
  | ({
      readonly type: "vacation";
      readonly reason: string;
      readonly subject: string | null;
      readonly from: string | null;
      readonly addresses: readonly string[];
      readonly mime: boolean;
      readonly handle: string;
      /** The period in seconds (RFC 5230 :days, RFC 6131 :seconds). */
      readonly periodSeconds: number;
    } & Edited);

export interface InterpreterLimits {
  readonly maxActions: number;
  readonly maxRedirects: number;
  readonly maxVariableBytes: number;
  readonly maxVariables: number;
  /** Commands and tests evaluated in one run. */
  readonly maxSteps: number;
  readonly vacationMinSeconds: number;
  readonly vacationMaxSeconds: number;
  readonly vacationDefaultSeconds: number;
  /** Largest compiled :regex program (sieve.max_regex_states). */
  readonly maxRegexStates: number;
  /** Regex VM steps one run may take over all its :regex matches (sieve.max_regex_steps). */
  readonly maxRegexSteps: number;
  /** Scripts included within one another (RFC 6609, sieve.max_include_depth). */
  readonly maxIncludeDepth: number;
  /** RFC 7352 §3.3: the duplicate period without :seconds, and the longest honoured. */
  readonly duplicateDefaultSeconds: number;
  readonly duplicateMaxSeconds: number;
  /** RFC 5293: addheader/deleteheader commands one run may execute (sieve.editheader_max_edits). */
  readonly maxHeaderEdits: number;
  /** RFC 5293 §4: longest addheader value in octets (sieve.editheader_max_header_bytes). */
  readonly maxAddedHeaderBytes: number;
}

export const DEFAULT_INTERPRETER_LIMITS: InterpreterLimits = {
  maxActions: 32,
  maxRedirects: 4,
  maxVariableBytes: 4096,
  maxVariables: 128,
  maxSteps: 100_000,
  vacationMinSeconds: 86_400,
  vacationMaxSeconds: 90 * 86_400,
  vacationDefaultSeconds: 7 * 86_400,
  maxRegexStates: 10_000,
  maxRegexSteps: 5_000_000,
  maxIncludeDepth: 10,
  duplicateDefaultSeconds: 12 * 3600,
  duplicateMaxSeconds: 7 * 86_400,
  maxHeaderEdits: 64,
  maxAddedHeaderBytes: 2048,
};

export interface RunContext {
  readonly message: SieveMessage;
  readonly envelope: SieveEnvelope;
  /** RFC 5490 mailboxexists; also whether fileinto without :create may file (else it keeps). */
  readonly mailboxExists: (name: string) => boolean;
  readonly limits?: InterpreterLimits;
  /** currentdate's clock (RFC 5260 §5); the time of the run by default. */
  readonly now?: Date;
  /** The local time zone (minutes east of UTC) that date tests use without :zone (RFC 5260 §4.1). */
  readonly localOffsetMinutes?: number;
  /** RFC 5183 environment items; an item not here makes the test false (§4.1). */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * RFC 5235 verdicts: spamtest's value 1-10 (and :percent's 0-100) when a spam check ran; absent,
   * the message was not tested and the value is "0" (§3.1, §3.2). virustest likewise (§3.3).
   */
  readonly spam?: { readonly score: number; readonly percent: number } | null;
  readonly virus?: number | null;
  /** RFC 6609: the scripts include may run, "personal:name" / "global:name" -> compiled (include.ts resolves them). */
  readonly includes?: ReadonlyMap<string, CompiledScript>;
  /**
   * RFC 7352: the answers known so far, by "handle NUL unique-id"; an ID not here stops the run
   * with DuplicateLookupNeeded. Absent: nothing was ever seen (a check outside delivery).
   */
  readonly duplicates?: ReadonlyMap<string, boolean>;
}

/** A unique ID the run tested, to record once the delivery has succeeded (RFC 7352 §3). */
export interface DuplicateMark {
  readonly key: string;
  readonly seconds: number;
  readonly last: boolean;
}

export interface RunResult {
  readonly actions: SieveAction[];
  /** True when the implicit keep is part of the actions (nothing cancelled it). */
  readonly implicitKeep: boolean;
  readonly duplicates: readonly DuplicateMark[];
  /** Edits refused as RFC 5293 §6 requires (silently for the script), for the delivery log. */
  readonly warnings: readonly string[];
}

const MATCH_SPECS = new WeakMap<CompiledNode, MatchSpec>();

class Run {
  readonly actions: SieveAction[] = [];
  implicitKeep = true;
  stopped = false;
  /** RFC 6609 §3.3 return: the current script ends, its includer goes on. */
  returned = false;
  steps = 0;
  flags: string[] = [];
  /** The current script's own variables; RFC 6609 §3.4 global ones are shared by all scripts. */
  locals = new Map<string, string>();
  readonly globals = new Map<string, string>();
  globalNames = new Set<string>();
  /** "personal:name" keys of the scripts being run (for the depth limit) and already run (for :once). */
  readonly includeStack: string[] = [];
  readonly included = new Set<string>();
  matchVars: string[] = [];
  readonly duplicateMarks: DuplicateMark[] = [];
  /** The first answer for each ID tested in this run stands for the rest of it. */
  readonly duplicateAnswers = new Map<string, boolean>();
  readonly limits: InterpreterLimits;
  #regex: RegexRun | null = null;
  /** The message as tests see it now: the received one until the first edit (RFC 5293 §7). */
  message: SieveMessage;
  /** The editable header, made at the first edit. */
  header: EditableHeader | null = null;
  edits = 0;
  /** The header as delivered at this point (undefined: not computed since the last edit; null: unchanged). */
  #snapshot: EditedHeader | null | undefined = null;
  readonly warnings: string[] = [];

  constructor(
    public script: CompiledScript,
    readonly ctx: RunContext,
  ) {
    this.limits = ctx.limits ?? DEFAULT_INTERPRETER_LIMITS;
    this.message = ctx.message;
  }

  /** What an action that files or sends the message captures (RFC 5293 §7): the header as edited so far. */
  edited(): Edited {
    if (this.#snapshot === undefined) {
      const original = this.ctx.message.header!.bytes;
      const bytes = serializeHeader(this.header!);
      // Edits that cancel out (a field added and deleted again) leave the received message.
      this.#snapshot = bytes.equals(original) ? null : { header: bytes, resumeAt: original.length };
    }
    return this.#snapshot === null ? {} : { edited: this.#snapshot };
  }

  /** Counts an edit against the limit and gives the editable header (RFC 5293). */
  startEdit(): EditableHeader {
    if (++this.edits > this.limits.maxHeaderEdits) throw new SieveRuntimeError("limit", `more than ${this.limits.maxHeaderEdits} header edits (sieve.editheader_max_edits)`);
    if (this.header === null) {
      const read = this.ctx.message.header;
      if (read === undefined || !read.complete) throw new SieveRuntimeError("limit", "the header is larger than the part of the message read (sieve.max_message_bytes): it cannot be edited");
      this.header = editableHeader(read.bytes);
    }
    return this.header;
  }

  /** Makes the edited entries the message later tests see. */
  commitEdit(entries: EditableHeader["entries"]): void {
    const header = { ...this.header!, entries };
    const before = serializeHeader(this.header!).length;
    this.header = header;
    this.#snapshot = undefined;
    const base = this.ctx.message;
    const size = this.message.size - before + serializeHeader(header).length;
    const fields = entries.filter((e) => e.name !== null).map((e) => ({ name: e.name!, value: e.value }));
    // RFC 5293 §7 lets the body test ignore header changes: the body is the received one.
    this.message = {
      size,
      fields,
      header: base.header!,
      get rawBody() {
        return base.rawBody;
      },
      get parts() {
        return base.parts;
      },
    };
  }

  /** RFC 5293 §4. */
  addheader(node: CompiledNode): void {
    const name = this.str(node.positional[0]);
    const value = this.str(node.positional[1]);
    if (!isFieldName(name)) throw new SieveRuntimeError("runtime", `addheader: invalid header field name "${name}"`);
    // Checked in Pigeonhole's order: name, protection (silently ignored), value, size.
    if (!mayAdd(name)) {
      this.warnings.push(`addheader of the protected field ${name} ignored (RFC 5293 §6)`);
      return;
    }
    const bad = invalidFieldValue(value);
    if (bad !== null) throw new SieveRuntimeError("runtime", `addheader: ${bad}`);
    if (Buffer.byteLength(value, "utf8") > this.limits.maxAddedHeaderBytes) {
      throw new SieveRuntimeError("limit", `addheader: value of ${Buffer.byteLength(value, "utf8")} octets is longer than ${this.limits.maxAddedHeaderBytes} (sieve.editheader_max_header_bytes)`);
    }
    const header = this.startEdit();
    const entry = fieldEntry(name, formatField(name, value, header.eol));
    this.commitEdit(node.tags.has(":last") ? [...header.entries, entry] : [entry, ...header.entries]);
  }

  /** RFC 5293 §5: every occurrence, or the :index one (from the end with :last), whose value matches when patterns are given. */
  deleteheader(node: CompiledNode): void {
    const name = this.str(node.positional[0]);
    if (!isFieldName(name)) throw new SieveRuntimeError("runtime", `deleteheader: invalid header field name "${name}"`);
    if (!mayDelete(name)) {
      this.warnings.push(`deleteheader of the protected field ${name} ignored (RFC 5293 §6)`);
      return;
    }
    const header = this.startEdit();
    const wanted = name.toLowerCase();
    let positions = header.entries.flatMap((e, i) => (e.name !== null && e.name.toLowerCase() === wanted ? [i] : []));
    const index = node.tags.get(":index");
    if (typeof index === "number") {
      const at = node.tags.has(":last") ? positions.length - index : index - 1;
      positions = at >= 0 && at < positions.length ? [positions[at]!] : [];
    }
    if (node.positional.length > 1) {
      const patterns = this.list(node.positional[1]);
      const spec = this.matchSpec(node);
      // Values compared as the header test compares them: unfolded, RFC 2047 decoded.
      positions = positions.filter((i) => this.matchAnyChecked(spec, [decodeEncodedWords(header.entries[i]!.value)], patterns) !== null);
    }
    if (positions.length === 0) return;
    const drop = new Set(positions);
    this.commitEdit(header.entries.filter((_, i) => !drop.has(i)));
  }

  getVar(name: string): string | undefined {
    const key = name.toLowerCase();
    if (key.startsWith("global.")) return this.globals.get(key.slice(7));
    return this.globalNames.has(key) ? this.globals.get(key) : this.locals.get(key);
  }

  step(): void {
    if (++this.steps > this.limits.maxSteps) throw new SieveRuntimeError("limit", `more than ${this.limits.maxSteps} steps`);
  }

  /** RFC 5229 §3: ${name} and ${N} in strings, when "variables" is required. */
  expand(s: string): string {
    if (!this.script.extensions.has("variables") || !s.includes("${")) return s;
    const out = s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|[0-9]+)\}/g, (whole, name: string) => {
      if (/^[0-9]+$/.test(name)) return this.matchVars[Number(name)] ?? "";
      // RFC 6609 §3.5: the "global" namespace; other namespaces are not known here.
      if (name.includes(".") && !name.toLowerCase().startsWith("global.")) return whole;
      return this.getVar(name) ?? "";
    });
    return this.truncate(out);
  }

  truncate(s: string): string {
    const max = this.limits.maxVariableBytes;
    if (Buffer.byteLength(s, "utf8") <= max) return s;
    let b = Buffer.from(s, "utf8").subarray(0, max).toString("utf8");
    if (b.endsWith("\uFFFD")) b = b.slice(0, -1);
    return b;
  }

  str(v: Value | undefined): string {
    return typeof v === "string" ? this.expand(v) : Array.isArray(v) ? this.expand(v[0] ?? "") : String(v ?? "");
  }

  list(v: Value | undefined): readonly string[] {
    if (v === undefined) return [];
    if (typeof v === "number") return [String(v)];
    if (typeof v === "string") return [this.expand(v)];
    const items = v as readonly string[];
    // A constant list (no variable reference) is used as it is: no copy per test per message.
    if (!this.script.extensions.has("variables") || !items.some((x) => x.includes("${"))) return items;
    return items.map((x) => this.expand(x));
  }

  addAction(action: SieveAction): void {
    if (this.actions.length >= this.limits.maxActions) throw new SieveRuntimeError("limit", `more than ${this.limits.maxActions} actions`);
    this.actions.push(action);
  }

  block(nodes: readonly CompiledNode[]): void {
    let lastCondition: boolean | null = null;
    for (const node of nodes) {
      if (this.stopped || this.returned) return;
      this.step();
      if (node.name === "if") {
        lastCondition = this.test(node.tests[0]!);
        if (lastCondition) this.block(node.block!);
        continue;
      }
      if (node.name === "elsif") {
        if (lastCondition === true) continue;
        lastCondition = this.test(node.tests[0]!);
        if (lastCondition) this.block(node.block!);
        continue;
      }
      if (node.name === "else") {
        if (lastCondition === false) this.block(node.block!);
        lastCondition = null;
        continue;
      }
      lastCondition = null;
      this.command(node);
    }
  }

  currentFlags(node: CompiledNode): string[] {
    const explicit = node.tags.get(":flags");
    return explicit === undefined || explicit === true ? [...this.flags] : normalizeFlags(this.list(explicit));
  }

  command(node: CompiledNode): void {
    switch (node.name) {
      case "stop":
        this.stopped = true;
        return;
      case "keep":
        this.addAction({ type: "keep", flags: this.currentFlags(node), ...this.edited() });
        this.implicitKeep = false;
        return;
      case "discard":
        this.addAction({ type: "discard" });
        this.implicitKeep = false;
        return;
      case "fileinto": {
        const copy = node.tags.has(":copy");
        this.addAction({ type: "fileinto", mailbox: this.str(node.positional[0]), flags: this.currentFlags(node), create: node.tags.has(":create"), copy, ...this.edited() });
        if (!copy) this.implicitKeep = false;
        return;
      }
      case "redirect": {
        const copy = node.tags.has(":copy");
        const address = this.str(node.positional[0]);
        // RFC 5228 §4.2: a syntactically invalid address is a run-time error.
        if (!/^[^\s@<>]+@[^\s@<>]+$/.test(address)) throw new SieveRuntimeError("runtime", `redirect to an invalid address "${address}"`);
        const redirects = this.actions.filter((a) => a.type === "redirect").length;
        if (redirects >= this.limits.maxRedirects) throw new SieveRuntimeError("limit", `more than ${this.limits.maxRedirects} redirects`);
        this.addAction({ type: "redirect", address, copy, ...this.edited() });
        if (!copy) this.implicitKeep = false;
        return;
      }
      case "reject":
      case "ereject":
        this.addAction({ type: "reject", reason: this.str(node.positional[0]), extended: node.name === "ereject" });
        this.implicitKeep = false;
        return;
      case "setflag":
      case "addflag":
      case "removeflag":
        this.flagCommand(node);
        return;
      case "set":
        this.setCommand(node);
        return;
      case "vacation":
        this.vacation(node);
        return;
      case "include":
        this.include(node);
        return;
      case "return":
        this.returned = true;
        return;
      case "addheader":
        this.addheader(node);
        return;
      case "deleteheader":
        this.deleteheader(node);
        return;
      case "global":
        // RFC 6609 §3.4: these names refer to the shared variables from here on in this script.
        for (const name of this.list(node.positional[0])) this.globalNames.add(name.toLowerCase());
        return;
      default:
        throw new SieveRuntimeError("runtime", `unknown command ${node.name}`);
    }
  }

  flagCommand(node: CompiledNode): void {
    const [varArg, flagArg] = node.positional.length === 2 ? [node.positional[0], node.positional[1]] : [undefined, node.positional[0]];
    const given = normalizeFlags(this.list(flagArg));
    const varName = varArg === undefined ? null : this.str(varArg).toLowerCase();
    const current = varName === null ? this.flags : normalizeFlags((this.getVar(varName) ?? "").split(" "));
    let next: string[];
    if (node.name === "setflag") next = given;
    else if (node.name === "addflag") next = normalizeFlags([...current, ...given]);
    else {
      const remove = new Set(given.map((f) => f.toLowerCase()));
      next = current.filter((f) => !remove.has(f.toLowerCase()));
    }
    if (varName === null) this.flags = next;
    else this.setVariable(varName, next.join(" "));
  }

  setVariable(name: string, value: string): void {
    const global = this.globalNames.has(name);
    const scope = global ? this.globals : this.locals;
    if (!scope.has(name) && this.locals.size + this.globals.size >= this.limits.maxVariables) throw new SieveRuntimeError("limit", `more than ${this.limits.maxVariables} variables`);
    scope.set(name, this.truncate(value));
  }

  /** RFC 6609 §3.2: runs a resolved script (ctx.includes) in its own variable scope. */
  include(node: CompiledNode): void {
    const name = this.str(node.positional[0]);
    const key = `${node.tags.has(":global") ? "global" : "personal"}:${name}`;
    if (node.tags.has(":once") && this.included.has(key)) return;
    const script = this.ctx.includes?.get(key);
    if (script === undefined) {
      if (node.tags.has(":optional")) return;
      throw new SieveRuntimeError("runtime", `included script "${name}" does not exist`);
    }
    if (this.includeStack.includes(key)) throw new SieveRuntimeError("runtime", `include loop through "${name}"`);
    if (this.includeStack.length >= this.limits.maxIncludeDepth) throw new SieveRuntimeError("limit", `includes nested deeper than ${this.limits.maxIncludeDepth}`);
    const saved = { script: this.script, locals: this.locals, globalNames: this.globalNames };
    this.script = script;
    this.locals = new Map();
    this.globalNames = new Set();
    this.includeStack.push(key);
    try {
      this.block(script.commands);
    } finally {
      this.includeStack.pop();
      this.script = saved.script;
      this.locals = saved.locals;
      this.globalNames = saved.globalNames;
      this.returned = false;
    }
    this.included.add(key);
  }

  setCommand(node: CompiledNode): void {
    const name = this.str(node.positional[0]).toLowerCase();
    let value = this.str(node.positional[1]);
    // RFC 5229 §4.1: modifiers apply by precedence, highest (40) first.
    if (node.tags.has(":lower")) value = value.replace(/[A-Z]/g, (c) => c.toLowerCase());
    if (node.tags.has(":upper")) value = value.replace(/[a-z]/g, (c) => c.toUpperCase());
    if (node.tags.has(":lowerfirst")) value = value.charAt(0).toLowerCase() + value.slice(1);
    if (node.tags.has(":upperfirst")) value = value.charAt(0).toUpperCase() + value.slice(1);
    if (node.tags.has(":quotewildcard")) value = value.replace(/[*?\\]/g, (c) => `\\${c}`);
    if (node.tags.has(":length")) value = String(Array.from(value).length);
    this.setVariable(name, value);
  }

  vacation(node: CompiledNode): void {
    const l = this.limits;
    const days = node.tags.get(":days");
    const seconds = node.tags.get(":seconds");
    let period = typeof days === "number" ? days * 86_400 : typeof seconds === "number" ? seconds : l.vacationDefaultSeconds;
    // RFC 5230 §4.1 / RFC 6131 §2: the site may clamp the period to its own bounds; 0 seconds is "always reply".
    if (!(typeof seconds === "number" && seconds === 0)) period = Math.min(l.vacationMaxSeconds, Math.max(l.vacationMinSeconds, period));
    const reason = this.str(node.positional[0]);
    const subject = node.tags.has(":subject") ? this.str(node.tags.get(":subject") as Value) : null;
    const from = node.tags.has(":from") ? this.str(node.tags.get(":from") as Value) : null;
    const addresses = node.tags.has(":addresses") ? this.list(node.tags.get(":addresses") as Value) : [];
    const handle = node.tags.has(":handle") ? this.str(node.tags.get(":handle") as Value) : `${subject ?? ""}\u0000${from ?? ""}\u0000${reason}`;
    if (this.actions.some((a) => a.type === "vacation")) throw new SieveRuntimeError("runtime", "more than one vacation action");
    this.addAction({ type: "vacation", reason, subject, from, addresses, mime: node.tags.has(":mime"), handle, periodSeconds: period, ...this.edited() });
  }

  matchSpec(node: CompiledNode): MatchSpec {
    if (node.tags.has(":regex")) return this.buildMatchSpec(node);
    // Without :regex the spec depends on the node only: built once per compiled node.
    let spec = MATCH_SPECS.get(node);
    if (spec === undefined) {
      spec = this.buildMatchSpec(node);
      MATCH_SPECS.set(node, spec);
    }
    return spec;
  }

  buildMatchSpec(node: CompiledNode): MatchSpec {
    const comparatorTag = node.tags.get(":comparator");
    const comparator = (typeof comparatorTag === "string" ? comparatorTag : "i;ascii-casemap") as Comparator;
    let type: MatchSpec["type"] = "is";
    let relation: Relation | null = null;
    if (node.tags.has(":contains")) type = "contains";
    else if (node.tags.has(":matches")) type = "matches";
    else if (node.tags.has(":value")) {
      type = "value";
      relation = String(node.tags.get(":value")).toLowerCase() as Relation;
    } else if (node.tags.has(":count")) {
      type = "count";
      relation = String(node.tags.get(":count")).toLowerCase() as Relation;
    }
    if (node.tags.has(":regex")) {
      type = "regex";
      this.#regex ??= { maxStates: this.limits.maxRegexStates, budget: { steps: this.limits.maxRegexSteps } };
      if (comparator === "i;ascii-numeric") throw new SieveRuntimeError("runtime", "i;ascii-numeric does not support :regex");
      return { comparator, type, relation, regex: this.#regex };
    }
    if (comparator === "i;ascii-numeric" && (type === "contains" || type === "matches")) {
      throw new SieveRuntimeError("runtime", `i;ascii-numeric does not support :${type}`);
    }
    return { comparator, type, relation };
  }

  /** Runs the match; on :matches success stores the RFC 5229 match variables. */
  matched(node: CompiledNode, values: readonly string[], keys: readonly string[]): boolean {
    const spec = this.matchSpec(node);
    const result = this.matchAnyChecked(spec, values, keys);
    if (result === null) return false;
    if ((spec.type === "matches" || spec.type === "regex") && this.script.extensions.has("variables")) this.matchVars = result.slice(0, 10).map((v) => this.truncate(v));
    return true;
  }

  addressPart(node: CompiledNode, address: string): string | null {
    const at = address.lastIndexOf("@");
    const local = at >= 0 ? address.slice(0, at) : address;
    const domain = at >= 0 ? address.slice(at + 1) : "";
    if (node.tags.has(":localpart")) return local;
    if (node.tags.has(":domain")) return domain;
    // RFC 5233: the separator is "+"; :detail of an address without one does not match anything.
    if (node.tags.has(":user")) {
      const plus = local.indexOf("+");
      return plus >= 0 ? local.slice(0, plus) : local;
    }
    if (node.tags.has(":detail")) {
      const plus = local.indexOf("+");
      return plus >= 0 ? local.slice(plus + 1) : null;
    }
    return address;
  }

  test(node: CompiledNode): boolean {
    this.step();
    const m = this.message;
    switch (node.name) {
      case "true":
        return true;
      case "false":
        return false;
      case "not":
        return !this.test(node.tests[0]!);
      case "allof":
        return node.tests.every((t) => this.test(t));
      case "anyof":
        return node.tests.some((t) => this.test(t));
      case "size": {
        const limit = node.positional[0] as number;
        return node.tags.has(":over") ? m.size > limit : m.size < limit;
      }
      case "exists":
        return this.list(node.positional[0]).every((name) => headerValues(m, name).length > 0);
      case "header": {
        const values = this.list(node.positional[0]).flatMap((name) => this.indexed(node, headerValues(m, name)));
        return this.matched(node, values, this.list(node.positional[1]));
      }
      case "address": {
        // An empty header field is one empty address (what Pigeonhole does), so :is "" can test for it.
        const addresses = this.list(node.positional[0]).flatMap((name) => (node.tags.has(":index") ? addressValues(m, name, this.indexed(node, headerValues(m, name))) : addressValues(m, name)));
        const parts = addresses.map((a) => this.addressPart(node, a)).filter((p): p is string => p !== null);
        return this.matched(node, parts, this.list(node.positional[1]));
      }
      case "envelope": {
        const values: string[] = [];
        for (const part of this.list(node.positional[0])) {
          const which = part.toLowerCase();
          if (which !== "from" && which !== "to") continue;
          const address = which === "from" ? this.ctx.envelope.from : this.ctx.envelope.to;
          // RFC 5228 §5.4: the null reverse-path matches "" with :all and nothing else.
          if (address === "") {
            if (!node.tags.has(":localpart") && !node.tags.has(":domain") && !node.tags.has(":user") && !node.tags.has(":detail")) values.push("");
            continue;
          }
          const p = this.addressPart(node, address);
          if (p !== null) values.push(p);
        }
        return this.matched(node, values, this.list(node.positional[1]));
      }
      case "hasflag": {
        const [varArg, keyArg] = node.positional.length === 2 ? [node.positional[0], node.positional[1]] : [undefined, node.positional[0]];
        const flags =
          varArg === undefined ? this.flags : this.list(varArg).flatMap((name) => normalizeFlags((this.getVar(name) ?? "").split(" ")));
        return this.matched(node, flags, this.list(keyArg));
      }
      case "string":
        return this.matched(node, this.list(node.positional[0]), this.list(node.positional[1]));
      case "body":
        return this.body(node);
      case "mailboxexists":
        return this.list(node.positional[0]).every((name) => this.ctx.mailboxExists(name));
      case "date":
        return this.date(node);
      case "currentdate": {
        const instant = this.zoned(node, { time: (this.ctx.now ?? new Date()).getTime(), offsetMinutes: 0 });
        if (instant === null) return false;
        return this.matchedDate(node, [instant], this.str(node.positional[0]), node.positional[1]);
      }
      case "environment": {
        // RFC 5183 §4.1: names are case-insensitive; an unknown item makes the test false.
        const value = this.ctx.environment?.[this.str(node.positional[0]).toLowerCase()];
        if (value === undefined) return false;
        return this.matched(node, [value], this.list(node.positional[1]));
      }
      case "spamtest": {
        // RFC 5235 §3.1/§3.2: "0" means not tested (no spam verdict exists yet in Mailroom).
        const spam = this.ctx.spam ?? null;
        const value = spam === null ? "0" : String(node.tags.has(":percent") ? spam.percent : spam.score);
        return this.matched(node, [value], this.list(node.positional[0]));
      }
      case "duplicate":
        return this.duplicate(node);
      case "virustest":
        return this.matched(node, [String(this.ctx.virus ?? 0)], this.list(node.positional[0]));
      default:
        throw new SieveRuntimeError("runtime", `unknown test ${node.name}`);
    }
  }

  duplicate(node: CompiledNode): boolean {
    let id: string | undefined;
    const uniqueid = node.tags.get(":uniqueid");
    if (uniqueid !== undefined && uniqueid !== true) id = this.str(uniqueid);
    else {
      const header = node.tags.get(":header");
      const name = header !== undefined && header !== true ? this.str(header) : "message-id";
      // RFC 7352 §3.1-§3.2: a missing (or empty) field gives no ID, and the test is false.
      id = headerValues(this.message, name)[0]?.trim();
      if (id === "") id = undefined;
    }
    if (id === undefined) return false;
    const handle = node.tags.has(":handle") ? this.str(node.tags.get(":handle") as Value) : "";
    const key = `${handle}\u0000${id}`;
    const asked = node.tags.get(":seconds");
    const seconds = Math.min(typeof asked === "number" ? asked : this.limits.duplicateDefaultSeconds, this.limits.duplicateMaxSeconds);
    let seen = this.duplicateAnswers.get(key);
    if (seen === undefined) {
      if (this.ctx.duplicates === undefined) seen = false;
      else {
        const known = this.ctx.duplicates.get(key);
        if (known === undefined) throw new DuplicateLookupNeeded(key);
        seen = known;
      }
      this.duplicateAnswers.set(key, seen);
    }
    this.duplicateMarks.push({ key, seconds, last: node.tags.has(":last") });
    return seen;
  }

  /** matchAny, with a bad pattern from a variable or a spent regex budget as run-time errors. */
  matchAnyChecked(spec: MatchSpec, values: readonly string[], keys: readonly string[]): string[] | null {
    try {
      return matchAny(spec, values, keys);
    } catch (error) {
      if (error instanceof RegexBudgetError) throw new SieveRuntimeError("limit", error.message);
      if (error instanceof RegexSyntaxError) throw new SieveRuntimeError("runtime", error.message);
      throw error;
    }
  }

  /** RFC 5260 §6: with :index, only that occurrence of the field (counted from the end with :last). */
  indexed(node: CompiledNode, values: string[]): string[] {
    const index = node.tags.get(":index");
    if (typeof index !== "number") return values;
    const at = node.tags.has(":last") ? values.length - index : index - 1;
    return at >= 0 && at < values.length ? [values[at]!] : [];
  }

  /** :zone / :originalzone / the local zone (RFC 5260 §4.1); null for a malformed :zone from a variable. */
  zoned(node: CompiledNode, instant: ZonedInstant): ZonedInstant | null {
    if (node.tags.has(":originalzone")) return instant;
    const zoneTag = node.tags.get(":zone");
    if (zoneTag !== undefined && zoneTag !== true) {
      const offset = parseZone(this.str(zoneTag));
      return offset === null ? null : { time: instant.time, offsetMinutes: offset };
    }
    return { time: instant.time, offsetMinutes: this.ctx.localOffsetMinutes ?? 0 };
  }

  date(node: CompiledNode): boolean {
    const name = this.str(node.positional[0]);
    const received = name.toLowerCase() === "received";
    const instants: ZonedInstant[] = [];
    // A field whose date does not parse is skipped (RFC 5260 §4.1: the test is false for it).
    for (const value of this.indexed(node, headerValues(this.message, name))) {
      const parsed = parseDateTime(value, received);
      const zoned = parsed === null ? null : this.zoned(node, parsed);
      if (zoned !== null) instants.push(zoned);
    }
    return this.matchedDate(node, instants, this.str(node.positional[1]), node.positional[2]);
  }

  matchedDate(node: CompiledNode, instants: readonly ZonedInstant[], part: string, keys: Value | undefined): boolean {
    const p = part.toLowerCase() as DatePart;
    if (!["year", "month", "day", "date", "julian", "hour", "minute", "second", "time", "iso8601", "std11", "zone", "weekday"].includes(p)) {
      throw new SieveRuntimeError("runtime", `unknown date-part "${part}"`);
    }
    return this.matched(node, instants.map((i) => datePart(i, p)), this.list(keys));
  }

  body(node: CompiledNode): boolean {
    const m = this.message;
    let values: string[];
    if (node.tags.has(":raw")) values = [m.rawBody];
    else {
      const content = node.tags.get(":content");
      const types = content !== undefined && content !== true ? this.list(content).map((t) => t.toLowerCase()) : ["text"];
      // RFC 5173 §5.2: "" matches every part; "type" matches its subtypes; "type/sub" exactly.
      const wanted = (ct: string): boolean =>
        types.some((t) => t === "" || t === ct || (!t.includes("/") && ct.split("/")[0] === t));
      values = m.parts.filter((p) => !p.contentType.startsWith("multipart/") && p.contentType !== "message/rfc822" && wanted(p.contentType)).map((p) => p.text);
    }
    const spec = this.matchSpec(node);
    // RFC 5173 §5: body matches ignore line breaks as boundaries only for :contains on text; we
    // match each part's text as one value.
    const result = this.matchAnyChecked(spec, values, this.list(node.positional[0]));
    return result !== null;
  }
}

/** RFC 5232 §3: a flag list is space-separated flags; duplicates (case-insensitively) collapse. */
export function normalizeFlags(items: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    for (const flag of item.split(" ")) {
      if (flag === "") continue;
      const key = flag.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(flag);
    }
  }
  return out;
}

export function runScript(script: CompiledScript, ctx: RunContext): RunResult {
  const run = new Run(script, ctx);
  run.block(script.commands);
  // RFC 5429 §2.2: reject is incompatible with actions that deliver or reply (keep, fileinto,
  // redirect, vacation); such a run fails, which means the implicit keep (RFC 5228 §2.10.6).
  const rejects = run.actions.some((a) => a.type === "reject");
  if (rejects && run.actions.some((a) => a.type === "keep" || a.type === "fileinto" || a.type === "redirect" || a.type === "vacation")) {
    throw new SieveRuntimeError("runtime", "reject conflicts with another action that delivers the message");
  }
  const actions = [...run.actions];
  // RFC 5293 §7: the implicit keep stores the message with every edit the script made.
  if (run.implicitKeep) actions.push({ type: "keep", flags: [...run.flags], ...(run.header === null ? {} : run.edited()) });
  return { actions, implicitKeep: run.implicitKeep, duplicates: run.duplicateMarks, warnings: run.warnings };
}
