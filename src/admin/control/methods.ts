// The admin operations a control-socket request may call, by name, with their arguments checked
// before anything runs: the server side of the protocol. The client side (remote-operations.ts)
// builds the same AdminOperations shape out of these names, so a CLI command reads the same
// whether the operation runs in its own process or inside the server.
import type { Pop3Mode, Pop3Policy, QuotaLimits } from "../../store/index.js";
import { AdminError, type AdminOperations } from "../operations/index.js";

/** `progress` reaches the command as ControlProgress lines (protocol.ts) before the answer. */
type Invoke = (ops: AdminOperations, args: Arguments, progress: (progress: unknown) => void) => Promise<unknown>;

/** Positional arguments of one request, read with their expected types. */
class Arguments {
  constructor(
    private readonly values: unknown[],
    private readonly method: string,
  ) {}

  private bad(index: number, expected: string): never {
    throw new AdminError("invalid-argument", `${this.method}: argument ${index + 1} must be ${expected}`);
  }

  string(index: number): string {
    const value = this.values[index];
    return typeof value === "string" ? value : this.bad(index, "a string");
  }
  optionalString(index: number): string | undefined {
    return this.values[index] === undefined || this.values[index] === null ? undefined : this.string(index);
  }
  strings(index: number): string[] {
    const value = this.values[index];
    return Array.isArray(value) && value.every((v) => typeof v === "string") ? (value as string[]) : this.bad(index, "a list of strings");
  }
  optionalStrings(index: number): string[] | undefined {
    return this.values[index] === undefined || this.values[index] === null ? undefined : this.strings(index);
  }
  boolean(index: number): boolean {
    const value = this.values[index];
    return typeof value === "boolean" ? value : this.bad(index, "true or false");
  }
  integer(index: number): number {
    const value = this.values[index];
    return typeof value === "number" && Number.isSafeInteger(value) ? value : this.bad(index, "a whole number");
  }
  optionalInteger(index: number): number | undefined {
    return this.values[index] === undefined || this.values[index] === null ? undefined : this.integer(index);
  }
  integerOrNull(index: number): number | null {
    return this.values[index] === null ? null : this.integer(index);
  }
  object(index: number): Record<string, unknown> {
    const value = this.values[index];
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : this.bad(index, "an object");
  }
}

function newUser(args: Arguments): { address: string; password: string; quotaBytes: number | null } {
  const input = args.object(0);
  const fields = new Arguments([input.address, input.password, input.quotaBytes ?? null], "addUser");
  return { address: fields.string(0), password: fields.string(1), quotaBytes: fields.integerOrNull(2) };
}

/** `{ storageBytes?, messages? }`: each absent (unchanged), null (the default) or a whole number. */
function quotaLimits(args: Arguments): QuotaLimits {
  const input = args.object(1);
  const fields = new Arguments([input.storageBytes ?? null, input.messages ?? null], "setQuotaLimits");
  return {
    ...("storageBytes" in input ? { storageBytes: fields.integerOrNull(0) } : {}),
    ...("messages" in input ? { messages: fields.integerOrNull(1) } : {}),
  };
}

function pop3Policy(args: Arguments): Partial<Pop3Policy> {
  const input = args.object(1);
  const policy: Partial<Pop3Policy> = {};
  for (const [key, value] of Object.entries(input)) {
    const invalid = () => new AdminError("invalid-argument", `setPop3Policy: bad value for ${key}`);
    if (key === "mode") {
      if (value !== "keep" && value !== "delete-after-retrieve") throw invalid();
      policy.mode = value as Pop3Mode;
    } else if (key === "markSeen") {
      if (typeof value !== "boolean") throw invalid();
      policy.markSeen = value;
    } else if (key === "loginDelaySeconds" || key === "expireDays") {
      if (value !== null && !(typeof value === "number" && Number.isSafeInteger(value) && value >= 0)) throw invalid();
      policy[key] = value;
    } else {
      throw new AdminError("invalid-argument", `setPop3Policy: unknown field ${key}`);
    }
  }
  return policy;
}

/** Every method by name; the name is what remote-operations.ts sends. */
export const ADMIN_METHODS: Readonly<Record<string, Invoke>> = Object.freeze({
  addDomain: (ops, a) => ops.addDomain(a.string(0)),
  listDomains: (ops) => ops.listDomains(),
  deleteDomain: (ops, a) => ops.deleteDomain(a.string(0)),
  addUser: (ops, a) => ops.addUser(newUser(a)),
  setPassword: (ops, a) => ops.setPassword(a.string(0), a.string(1)),
  deleteUser: (ops, a) => ops.deleteUser(a.string(0)),
  disableUser: (ops, a) => ops.disableUser(a.string(0)),
  enableUser: (ops, a) => ops.enableUser(a.string(0)),
  listUsers: (ops, a) => ops.listUsers(a.optionalString(0)),
  listUsersPage: (ops, a) => {
    const q = a.object(0);
    const fields = new Arguments([q.domain ?? null, q.search ?? null, q.offset ?? null, q.limit ?? null], "listUsersPage");
    return ops.listUsersPage({ domain: fields.optionalString(0), search: fields.optionalString(1), offset: fields.optionalInteger(2), limit: fields.optionalInteger(3) });
  },
  tlsStatus: (ops) => ops.tlsStatus(),
  "accountFilters.getFilters": (ops, a) => ops.accountFilters.getFilters(a.string(0)),
  "accountFilters.setFilters": (ops, a) => ops.accountFilters.setFilters(a.string(0), a.object(1)),
  "admins.addAdmin": (ops, a) => ops.admins.addAdmin(a.string(0), a.string(1)),
  "admins.listAdmins": (ops) => ops.admins.listAdmins(),
  "admins.setAdminPassword": (ops, a) => ops.admins.setAdminPassword(a.string(0), a.string(1)),
  "admins.deleteAdmin": (ops, a) => ops.admins.deleteAdmin(a.string(0)),
  "admins.createApiToken": (ops, a) => ops.admins.createApiToken(a.string(0), a.string(1), a.integer(2)),
  "admins.listApiTokens": (ops) => ops.admins.listApiTokens(),
  "admins.deleteApiToken": (ops, a) => ops.admins.deleteApiToken(a.integer(0)),
  "admins.totpEnable": (ops, a) => ops.admins.totpEnable(a.string(0)),
  "admins.totpConfirm": (ops, a) => ops.admins.totpConfirm(a.string(0), a.string(1)),
  "admins.totpDisable": (ops, a) => ops.admins.totpDisable(a.string(0)),
  "admins.totpStatus": (ops, a) => ops.admins.totpStatus(a.string(0)),
  serverStatus: (ops) => ops.serverStatus(),
  setQuota: (ops, a) => ops.setQuota(a.string(0), a.integerOrNull(1)),
  showUser: (ops, a) => ops.showUser(a.string(0)),
  setQuotaLimits: (ops, a) => ops.setQuotaLimits(a.string(0), quotaLimits(a)),
  setPop3Policy: (ops, a) => ops.setPop3Policy(a.string(0), pop3Policy(a)),
  addAlias: (ops, a) => ops.addAlias(a.string(0), a.strings(1)),
  deleteAlias: (ops, a) => ops.deleteAlias(a.string(0), a.optionalStrings(1)),
  listAliases: (ops, a) => ops.listAliases(a.optionalString(0)),
  "outbound.listQueue": (ops, a) => ops.outbound.listQueue(a.optionalInteger(0)),
  "outbound.countQueue": (ops) => ops.outbound.countQueue(),
  // The query's fields are checked by the operation itself (the API passes the same object).
  "outbound.queuePage": (ops, a) => ops.outbound.queuePage(a.object(0)),
  "outbound.showQueued": (ops, a) => ops.outbound.showQueued(a.integer(0)),
  "outbound.retryQueued": (ops, a) => ops.outbound.retryQueued(a.integer(0)),
  "outbound.deleteQueued": (ops, a) => ops.outbound.deleteQueued(a.integer(0)),
  "outbound.flushQueue": (ops) => ops.outbound.flushQueue(),
  "outbound.holdQueued": (ops, a) => ops.outbound.holdQueued(a.integer(0)),
  "outbound.releaseQueued": (ops, a) => ops.outbound.releaseQueued(a.integer(0)),
  "outbound.bounceQueued": (ops, a) => ops.outbound.bounceQueued(a.integer(0), a.optionalString(1)),
  "outbound.dnsRecordList": (ops, a) => ops.outbound.dnsRecordList(a.string(0)),
  "outbound.ensureDkimKeys": (ops, a) => ops.outbound.ensureDkimKeys(a.string(0)),
  "outbound.rotateDkim": (ops, a) => ops.outbound.rotateDkim(a.string(0)),
  "outbound.dnsRecords": (ops, a) => ops.outbound.dnsRecords(a.string(0)),
  "outbound.dnsCheck": (ops, a) => ops.outbound.dnsCheck(a.string(0)),
  "shares.share": (ops, a) => ops.shares.share(a.string(0), a.string(1), a.string(2), a.string(3)),
  "shares.unshare": (ops, a) => ops.shares.unshare(a.string(0), a.string(1), a.string(2)),
  "shares.list": (ops, a) => ops.shares.list(a.optionalString(0) ?? undefined),
  "sieve.put": (ops, a) => ops.sieve.put(a.string(0), a.string(1), a.string(2)),
  "sieve.get": (ops, a) => ops.sieve.get(a.string(0), a.string(1)),
  "sieve.list": (ops, a) => ops.sieve.list(a.string(0)),
  "sieve.activate": (ops, a) => ops.sieve.activate(a.string(0), a.optionalString(1) ?? null),
  "auth.addAppPassword": (ops, a) => ops.auth.addAppPassword(a.string(0), a.string(1), a.optionalStrings(2)),
  "auth.listAppPasswords": (ops, a) => ops.auth.listAppPasswords(a.string(0)),
  "auth.revokeAppPassword": (ops, a) => ops.auth.revokeAppPassword(a.string(0), a.string(1)),
  "auth.setAppPasswordsOnly": (ops, a) => ops.auth.setAppPasswordsOnly(a.string(0), a.boolean(1)),
  "auth.totpEnable": (ops, a) => ops.auth.totpEnable(a.string(0)),
  "auth.totpConfirm": (ops, a) => ops.auth.totpConfirm(a.string(0), a.string(1)),
  "auth.totpDisable": (ops, a) => ops.auth.totpDisable(a.string(0)),
  "auth.totpStatus": (ops, a) => ops.auth.totpStatus(a.string(0)),
  "auth.unlockUser": (ops, a) => ops.auth.unlockUser(a.string(0)),
  tlsReports: (ops, a) => ops.tlsReports(a.integer(0)),
  acmeStatus: (ops) => ops.acmeStatus(),
  acmeRenew: (ops, a) => ops.acmeRenew(a.string(0)),
  acmeRevoke: (ops, a) => ops.acmeRevoke(a.string(0)),
  checkStore: (ops, a, progress) => ops.checkStore({ repair: a.object(0).repair === true, onProgress: progress }),
  checkIndex: (ops, _a, progress) => ops.checkIndex({ onProgress: progress }),
  rebuildIndex: (ops, a, progress) => ops.rebuildIndex({ account: a.optionalString(0), onProgress: progress }),
  backup: (ops, a, progress) => ops.backup({ file: a.string(0), incrementalFrom: a.optionalString(1) ?? null, onProgress: progress }),
  importMessages: (ops, a, progress) => ops.importMessages({ account: a.string(0), path: a.string(1), mailbox: a.optionalString(2) ?? null, onProgress: progress }),
  exportMessages: (ops, a, progress) => ops.exportMessages({ account: a.string(0), dir: a.string(1), format: a.string(2), mailbox: a.optionalString(3) ?? null, onProgress: progress }),
  migrate: (ops, a, progress) => {
    const options = a.object(1);
    const fields = new Arguments([options.from, options.password, options.insecureTls ?? false], "migrate");
    if (typeof options.insecureTls !== "boolean" && options.insecureTls !== undefined) throw new AdminError("invalid-argument", "migrate: insecureTls must be true or false");
    return ops.migrate({ account: a.string(0), from: fields.string(0), password: fields.string(1), insecureTls: options.insecureTls === true, onProgress: progress });
  },
} satisfies Record<string, Invoke>);

/** The most arguments any method takes; a longer list is refused before any lookup. */
const MAX_ARGUMENTS = 4;

/** Runs one named method; unknown names and ill-typed arguments are refused as invalid-argument. */
export async function invokeAdminMethod(ops: AdminOperations, method: string, args: unknown[], progress: (progress: unknown) => void = () => {}): Promise<unknown> {
  const invoke = Object.hasOwn(ADMIN_METHODS, method) ? ADMIN_METHODS[method] : undefined;
  if (invoke === undefined) throw new AdminError("invalid-argument", `unknown admin method ${JSON.stringify(method)}`);
  if (args.length > MAX_ARGUMENTS) throw new AdminError("invalid-argument", `${method}: too many arguments`);
  const result = await invoke(ops, new Arguments(args, method), progress);
  return result === undefined ? null : result;
}
