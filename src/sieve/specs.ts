// Which commands and tests exist, which extension each needs, and the arguments each takes
// (RFC 5228 §2.6-§5 plus the extensions in capabilities.ts). One table, so the validator
// (compile.ts) and the capability list cannot drift apart.

export type ArgType = "string" | "list" | "number";

export interface TagSpec {
  /** Tags in the same group exclude each other (RFC 5228 §2.7.1: one match type, one comparator...). */
  readonly group: string;
  /** The argument that follows the tag, if any. */
  readonly arg?: ArgType;
  /** The extension that must be required to use this tag. */
  readonly requires?: string;
}

export interface CommandSpec {
  readonly kind: "command" | "test";
  readonly requires?: string;
  readonly tags: Readonly<Record<string, TagSpec>>;
  /** Positional arguments after the tags, in order; a trailing "?" entry is optional. */
  readonly positional: readonly ArgType[];
  readonly optionalPositional?: number;
  /** The optional positional arguments are the last ones (deleteheader's value-patterns), not the first. */
  readonly optionalTrailing?: boolean;
  readonly tests?: "none" | "one" | "list";
  readonly block?: boolean;
}

const COMPARATOR: Record<string, TagSpec> = { ":comparator": { group: "comparator", arg: "string" } };
const MATCH: Record<string, TagSpec> = {
  ":is": { group: "match" },
  ":contains": { group: "match" },
  ":matches": { group: "match" },
  ":value": { group: "match", arg: "string", requires: "relational" },
  ":count": { group: "match", arg: "string", requires: "relational" },
  ":regex": { group: "match", requires: "regex" },
};
const ADDRESS_PART: Record<string, TagSpec> = {
  ":all": { group: "address-part" },
  ":localpart": { group: "address-part" },
  ":domain": { group: "address-part" },
  ":user": { group: "address-part", requires: "subaddress" },
  ":detail": { group: "address-part", requires: "subaddress" },
};
const MATCHING = { ...COMPARATOR, ...MATCH };
// RFC 5260 §6: which occurrence of a header field a header, address or date test looks at.
const INDEX: Record<string, TagSpec> = {
  ":index": { group: "index", arg: "number", requires: "index" },
  ":last": { group: "last", requires: "index" },
};
const ZONE: Record<string, TagSpec> = { ":zone": { group: "zone", arg: "string" } };

export const SPECS: Readonly<Record<string, CommandSpec>> = {
  require: { kind: "command", tags: {}, positional: ["list"] },
  if: { kind: "command", tags: {}, positional: [], tests: "one", block: true },
  elsif: { kind: "command", tags: {}, positional: [], tests: "one", block: true },
  else: { kind: "command", tags: {}, positional: [], block: true },
  stop: { kind: "command", tags: {}, positional: [] },
  keep: { kind: "command", tags: { ":flags": { group: "flags", arg: "list", requires: "imap4flags" } }, positional: [] },
  discard: { kind: "command", tags: {}, positional: [] },
  fileinto: {
    kind: "command",
    requires: "fileinto",
    tags: {
      ":copy": { group: "copy", requires: "copy" },
      ":flags": { group: "flags", arg: "list", requires: "imap4flags" },
      ":create": { group: "create", requires: "mailbox" },
    },
    positional: ["string"],
  },
  redirect: { kind: "command", tags: { ":copy": { group: "copy", requires: "copy" } }, positional: ["string"] },
  reject: { kind: "command", requires: "reject", tags: {}, positional: ["string"] },
  ereject: { kind: "command", requires: "ereject", tags: {}, positional: ["string"] },
  setflag: { kind: "command", requires: "imap4flags", tags: {}, positional: ["list", "list"], optionalPositional: 1 },
  addflag: { kind: "command", requires: "imap4flags", tags: {}, positional: ["list", "list"], optionalPositional: 1 },
  removeflag: { kind: "command", requires: "imap4flags", tags: {}, positional: ["list", "list"], optionalPositional: 1 },
  set: {
    kind: "command",
    requires: "variables",
    tags: {
      ":lower": { group: "mod40" },
      ":upper": { group: "mod40" },
      ":lowerfirst": { group: "mod30" },
      ":upperfirst": { group: "mod30" },
      ":quotewildcard": { group: "mod20" },
      ":length": { group: "mod10" },
    },
    positional: ["string", "string"],
  },
  vacation: {
    kind: "command",
    requires: "vacation",
    tags: {
      ":days": { group: "period", arg: "number" },
      ":seconds": { group: "period", arg: "number", requires: "vacation-seconds" },
      ":subject": { group: "subject", arg: "string" },
      ":from": { group: "from", arg: "string" },
      ":addresses": { group: "addresses", arg: "list" },
      ":mime": { group: "mime" },
      ":handle": { group: "handle", arg: "string" },
    },
    positional: ["string"],
  },
  // RFC 7352 §3: duplicate [:handle] [:header / :uniqueid] [:seconds] [:last].
  duplicate: {
    kind: "test",
    requires: "duplicate",
    tags: {
      ":handle": { group: "handle", arg: "string" },
      ":header": { group: "id", arg: "string" },
      ":uniqueid": { group: "id", arg: "string" },
      ":seconds": { group: "seconds", arg: "number" },
      ":last": { group: "last" },
    },
    positional: [],
  },
  // RFC 6609 §3.2-§3.4.
  include: {
    kind: "command",
    requires: "include",
    tags: { ":personal": { group: "location" }, ":global": { group: "location" }, ":once": { group: "once" }, ":optional": { group: "optional" } },
    positional: ["string"],
  },
  return: { kind: "command", requires: "include", tags: {}, positional: [] },
  global: { kind: "command", requires: "include", tags: {}, positional: ["list"] },
  // RFC 5293 §4-§5: addheader [:last] <field-name> <value>; deleteheader [:index <n> [:last]]
  // [COMPARATOR] [MATCH-TYPE] <field-name> [<value-patterns>] (its :index needs no "index").
  addheader: { kind: "command", requires: "editheader", tags: { ":last": { group: "last" } }, positional: ["string", "string"] },
  deleteheader: {
    kind: "command",
    requires: "editheader",
    tags: { ...MATCHING, ":index": { group: "index", arg: "number" }, ":last": { group: "last" } },
    positional: ["string", "list"],
    optionalPositional: 1,
    optionalTrailing: true,
  },
  address: { kind: "test", tags: { ...MATCHING, ...ADDRESS_PART, ...INDEX }, positional: ["list", "list"] },
  envelope: { kind: "test", requires: "envelope", tags: { ...MATCHING, ...ADDRESS_PART }, positional: ["list", "list"] },
  header: { kind: "test", tags: { ...MATCHING, ...INDEX }, positional: ["list", "list"] },
  exists: { kind: "test", tags: {}, positional: ["list"] },
  size: { kind: "test", tags: { ":over": { group: "size" }, ":under": { group: "size" } }, positional: ["number"] },
  true: { kind: "test", tags: {}, positional: [] },
  false: { kind: "test", tags: {}, positional: [] },
  not: { kind: "test", tags: {}, positional: [], tests: "one" },
  allof: { kind: "test", tags: {}, positional: [], tests: "list" },
  anyof: { kind: "test", tags: {}, positional: [], tests: "list" },
  hasflag: { kind: "test", requires: "imap4flags", tags: MATCHING, positional: ["list", "list"], optionalPositional: 1 },
  string: { kind: "test", requires: "variables", tags: MATCHING, positional: ["list", "list"] },
  body: {
    kind: "test",
    requires: "body",
    tags: { ...MATCHING, ":raw": { group: "transform" }, ":content": { group: "transform", arg: "list" }, ":text": { group: "transform" } },
    positional: ["list"],
  },
  mailboxexists: { kind: "test", requires: "mailbox", tags: {}, positional: ["list"] },
  // RFC 5260 §4: date <header-name> <date-part> <key-list>, currentdate <date-part> <key-list>.
  date: { kind: "test", requires: "date", tags: { ...MATCHING, ...INDEX, ...ZONE, ":originalzone": { group: "zone" } }, positional: ["string", "string", "list"] },
  currentdate: { kind: "test", requires: "date", tags: { ...MATCHING, ...ZONE }, positional: ["string", "list"] },
  // RFC 5183 §4: environment <name> <key-list>.
  environment: { kind: "test", requires: "environment", tags: MATCHING, positional: ["string", "list"] },
  // RFC 5235 §3: spamtest [:percent] <value>, virustest <value>.
  spamtest: { kind: "test", requires: "spamtest", tags: { ...MATCHING, ":percent": { group: "percent", requires: "spamtestplus" } }, positional: ["string"] },
  virustest: { kind: "test", requires: "virustest", tags: MATCHING, positional: ["string"] },
};
