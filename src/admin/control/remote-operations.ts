// AdminOperations whose every call runs inside the running server (methods.ts names them): what
// the CLI uses when a server answers on the control socket. The results come back typed as the
// local operations return them (dates revived by protocol.ts), so the CLI prints them alike.
import type { Alias, Domain, QueuedMessage, SieveScript, SieveScriptInfo } from "../../store/index.js";
import type { AccountFilterOperations, AccountFilters, AdminView, TokenView, WebAdminOperations, AccountPage, DnsRecordRow, TlsStatus, AccountView, AdminOperations, BackupResult, ExportResult, ImportResult, MigrateResult, IndexCheckResult, IndexRebuildResult, OutboundOperations, QueuePage, SieveOperations, StoreCheckResult, AuthOperations, ShareOperations, ShareRow } from "../operations/index.js";
import type { ControlClient } from "./client.js";
import type { TotpEnrollment, TotpStatus } from "../../auth/totp.js";

export function remoteOperations(client: ControlClient): AdminOperations {
  const call = <T>(method: string, ...args: unknown[]): Promise<T> => client.call(method, args) as Promise<T>;
  // The server's progress lines go to the command's progress printer as they come.
  const withProgress = <T>(onProgress: ((progress: never) => void) | undefined, method: string, ...args: unknown[]): Promise<T> =>
    client.call(method, args, onProgress as ((progress: unknown) => void) | undefined) as Promise<T>;
  const outbound: OutboundOperations = {
    listQueue: (limit) => call<QueuedMessage[]>("outbound.listQueue", limit ?? null),
    countQueue: () => call<number>("outbound.countQueue"),
    queuePage: (query) => call<QueuePage>("outbound.queuePage", query ?? {}),
    showQueued: (id) => call<QueuedMessage>("outbound.showQueued", id),
    retryQueued: (id) => call<QueuedMessage>("outbound.retryQueued", id),
    deleteQueued: async (id) => void (await call("outbound.deleteQueued", id)),
    flushQueue: () => call<number>("outbound.flushQueue"),
    holdQueued: (id) => call<QueuedMessage>("outbound.holdQueued", id),
    releaseQueued: (id) => call<QueuedMessage>("outbound.releaseQueued", id),
    bounceQueued: async (id, reason) => void (await call("outbound.bounceQueued", id, reason ?? null)),
    dnsRecordList: (domain) => call<DnsRecordRow[]>("outbound.dnsRecordList", domain),
    ensureDkimKeys: (domain) => call<string[]>("outbound.ensureDkimKeys", domain),
    rotateDkim: (domain) => call<string[]>("outbound.rotateDkim", domain),
    dnsRecords: (domain) => call<string>("outbound.dnsRecords", domain),
    dnsCheck: (domain) => call<Awaited<ReturnType<OutboundOperations["dnsCheck"]>>>("outbound.dnsCheck", domain),
  };
  const shares: ShareOperations = {
    share: (owner, mailbox, grantee, rights) => call<ShareRow>("shares.share", owner, mailbox, grantee, rights),
    unshare: async (owner, mailbox, grantee) => void (await call("shares.unshare", owner, mailbox, grantee)),
    list: (owner) => call<ShareRow[]>("shares.list", owner ?? null),
  };
  const sieve: SieveOperations = {
    put: (address, name, content) => call<SieveScriptInfo>("sieve.put", address, name, content),
    get: (address, name) => call<SieveScript>("sieve.get", address, name),
    list: (address) => call<SieveScriptInfo[]>("sieve.list", address),
    activate: async (address, name) => void (await call("sieve.activate", address, name)),
  };
  const admins: WebAdminOperations = {
    addAdmin: (name, password) => call<AdminView>("admins.addAdmin", name, password),
    listAdmins: () => call<AdminView[]>("admins.listAdmins"),
    setAdminPassword: async (name, password) => void (await call("admins.setAdminPassword", name, password)),
    deleteAdmin: async (name) => void (await call("admins.deleteAdmin", name)),
    createApiToken: (admin, name, days) => call<TokenView & { token: string }>("admins.createApiToken", admin, name, days),
    listApiTokens: () => call<TokenView[]>("admins.listApiTokens"),
    deleteApiToken: async (id) => void (await call("admins.deleteApiToken", id)),
    totpEnable: (name) => call<TotpEnrollment>("admins.totpEnable", name),
    totpConfirm: (name, code) => call<boolean>("admins.totpConfirm", name, code),
    totpDisable: async (name) => void (await call("admins.totpDisable", name)),
    totpStatus: (name) => call<TotpStatus>("admins.totpStatus", name),
  };
  const accountFilters: AccountFilterOperations = {
    getFilters: (address) => call<Awaited<ReturnType<AccountFilterOperations["getFilters"]>>>("accountFilters.getFilters", address),
    setFilters: (address, input) => call<AccountFilters>("accountFilters.setFilters", address, input),
  };
  const auth: AuthOperations = {
    addAppPassword: (address, name, protocols) => call("auth.addAppPassword", address, name, protocols ?? null),
    listAppPasswords: (address) => call("auth.listAppPasswords", address),
    revokeAppPassword: (address, name) => call("auth.revokeAppPassword", address, name),
    setAppPasswordsOnly: (address, on) => call("auth.setAppPasswordsOnly", address, on),
    totpEnable: (address) => call("auth.totpEnable", address),
    totpConfirm: (address, code) => call("auth.totpConfirm", address, code),
    totpDisable: async (address) => void (await call("auth.totpDisable", address)),
    totpStatus: (address) => call("auth.totpStatus", address),
    unlockUser: (address) => call("auth.unlockUser", address),
  };
  return {
    admins,
    accountFilters,
    auth,
    sieve,
    shares,
    addDomain: (name) => call<Domain & { dkimSelectors: string[] }>("addDomain", name),
    listDomains: () => call<Domain[]>("listDomains"),
    deleteDomain: async (name) => void (await call("deleteDomain", name)),
    addUser: (input) => call<AccountView>("addUser", { address: input.address, password: input.password, quotaBytes: input.quotaBytes ?? null }),
    setPassword: async (address, password) => void (await call("setPassword", address, password)),
    deleteUser: async (address) => void (await call("deleteUser", address)),
    disableUser: (address) => call<AccountView>("disableUser", address),
    enableUser: (address) => call<AccountView>("enableUser", address),
    listUsers: (domain) => call<AccountView[]>("listUsers", domain ?? null),
    listUsersPage: (query) => call<AccountPage>("listUsersPage", query),
    tlsStatus: () => call<TlsStatus>("tlsStatus"),
    serverStatus: () => call<Record<string, unknown>>("serverStatus"),
    setQuota: (address, quotaBytes) => call<AccountView>("setQuota", address, quotaBytes),
    showUser: (address) => call<AccountView>("showUser", address),
    setQuotaLimits: (address, limits) => call<AccountView>("setQuotaLimits", address, limits),
    setPop3Policy: (address, policy) => call<AccountView>("setPop3Policy", address, policy),
    addAlias: (alias, targets) => call<Alias>("addAlias", alias, targets),
    deleteAlias: async (alias, targets) => void (await call("deleteAlias", alias, targets ?? null)),
    listAliases: (domain) => call<Alias[]>("listAliases", domain ?? null),
    tlsReports: (days) => call<string[]>("tlsReports", days),
    acmeStatus: () => call<string[]>("acmeStatus"),
    acmeRenew: (name) => call<string>("acmeRenew", name),
    acmeRevoke: (name) => call<string>("acmeRevoke", name),
    checkStore: (options) => withProgress<StoreCheckResult>(options?.onProgress, "checkStore", { repair: options?.repair === true }),
    checkIndex: (options) => withProgress<IndexCheckResult>(options?.onProgress, "checkIndex"),
    rebuildIndex: (request) => withProgress<IndexRebuildResult>(request?.onProgress, "rebuildIndex", request?.account ?? null),
    backup: (request) => withProgress<BackupResult>(request.onProgress, "backup", request.file, request.incrementalFrom),
    importMessages: (request) => withProgress<ImportResult>(request.onProgress, "importMessages", request.account, request.path, request.mailbox ?? null),
    exportMessages: (request) => withProgress<ExportResult>(request.onProgress, "exportMessages", request.account, request.dir, request.format, request.mailbox ?? null),
    migrate: (request) => withProgress<MigrateResult>(request.onProgress, "migrate", request.account, { from: request.from, password: request.password, insecureTls: request.insecureTls === true }),
    outbound,
  };
}
