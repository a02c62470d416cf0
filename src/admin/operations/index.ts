// The administration use-cases. The CLI (and later the HTTP API) are thin adapters over these,
// so both stay in step: neither holds any rule of its own.
import type { Account, AccountStore, Alias, Domain, Pop3Policy } from "../../store/index.js";
import { isStoreError } from "../../store/index.js";
import { AdminError, normaliseAddress, normaliseAliasAddress, normaliseDomain } from "./validation.js";

import { createOutboundOperations, type OutboundAdminDependencies, type OutboundOperations } from "./outbound.js";

export { AdminError } from "./validation.js";
export type { OutboundAdminDependencies, OutboundOperations } from "./outbound.js";
export { renderDnsRecords } from "./dns-records.js";
export type { AdminErrorKind } from "./validation.js";

export interface AdminDependencies {
  accounts: AccountStore;
  /** The password hasher from auth/ (argon2id); passed in so tests can use cheap parameters. */
  hashPassword: (password: string) => Promise<string>;
  /** The POP3 policy a new account starts with (config `pop3.*`). */
  defaultPop3Policy?: Partial<Pop3Policy>;
  /** Queue and DKIM administration; without it those operations are unavailable. */
  outbound?: Omit<OutboundAdminDependencies, "accounts">;
}

/** What the operator sees of an account: never the hash. */
export interface AccountView {
  address: string;
  quotaBytes: number | null;
  usedBytes: number;
  pop3: Pop3Policy;
  createdAt: Date;
}

const MIN_PASSWORD_LENGTH = 8;
const MAX_PASSWORD_BYTES = 1024;

export function createAdminOperations(deps: AdminDependencies) {
  const { accounts } = deps;
  const outbound: OutboundOperations | null = deps.outbound ? createOutboundOperations({ ...deps.outbound, accounts }) : null;

  async function checkedPasswordHash(password: string): Promise<string> {
    if ([...password].length < MIN_PASSWORD_LENGTH) {
      throw new AdminError("invalid-argument", `the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
    }
    if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
      throw new AdminError("invalid-argument", `the password must have at most ${MAX_PASSWORD_BYTES} bytes`);
    }
    if (/[\x00-\x1f\x7f]/.test(password)) throw new AdminError("invalid-argument", "the password must not contain control characters");
    return deps.hashPassword(password);
  }

  async function requireDomain(domain: string): Promise<void> {
    if (!(await accounts.isLocalDomain(domain))) throw new AdminError("not-found", `no such domain: ${domain} (add it with: mailroom domain add ${domain})`);
  }

  async function requireAccount(address: string): Promise<Account> {
    const account = await accounts.findAccountByAddress(normaliseAddress(address).address);
    if (!account) throw new AdminError("not-found", `no such user: ${address}`);
    return account;
  }

  return {
    /** Adds the domain and, with outbound configured, makes its DKIM keys (RFC 6376). */
    async addDomain(name: string): Promise<Domain & { dkimSelectors: string[] }> {
      const domain = await translate(() => accounts.addDomain(normaliseDomain(name)), `domain ${name}`);
      return { ...domain, dkimSelectors: outbound ? await outbound.ensureDkimKeys(domain.name) : [] };
    },
    listDomains: (): Promise<Domain[]> => accounts.listDomains(),
    async deleteDomain(name: string): Promise<void> {
      await translate(() => accounts.deleteDomain(normaliseDomain(name)), `domain ${name}`);
    },

    async addUser(input: { address: string; password: string; quotaBytes?: number | null }): Promise<AccountView> {
      const { address, domain } = normaliseAddress(input.address);
      await requireDomain(domain);
      if (await accounts.findAlias(address)) throw new AdminError("conflict", `${address} is already an alias`);
      const passwordHash = await checkedPasswordHash(input.password);
      const account = await translate(
        () => accounts.createAccount({ address, passwordHash, quotaBytes: input.quotaBytes ?? null, pop3: deps.defaultPop3Policy ?? {} }),
        `user ${address}`,
      );
      return viewOf(account);
    },
    async setPassword(address: string, password: string): Promise<void> {
      const account = await requireAccount(address);
      await accounts.setPasswordHash(account.address, await checkedPasswordHash(password));
    },
    async deleteUser(address: string): Promise<void> {
      const account = await requireAccount(address);
      await accounts.deleteAccount(account.address);
    },
    async listUsers(domain?: string): Promise<AccountView[]> {
      const list = await accounts.listAccounts(domain === undefined ? undefined : normaliseDomain(domain));
      return list.map(viewOf);
    },
    async setQuota(address: string, quotaBytes: number | null): Promise<AccountView> {
      if (quotaBytes !== null && (!Number.isSafeInteger(quotaBytes) || quotaBytes < 0)) {
        throw new AdminError("invalid-argument", "the quota must be a whole number of bytes, or none");
      }
      const account = await requireAccount(address);
      await accounts.setQuota(account.address, quotaBytes);
      return viewOf((await accounts.findAccountByAddress(account.address)) ?? account);
    },
    async setPop3Policy(address: string, policy: Partial<Pop3Policy>): Promise<AccountView> {
      const account = await requireAccount(address);
      return viewOf(await accounts.setPop3Policy(account.address, policy));
    },

    async addAlias(aliasAddress: string, targets: string[]): Promise<Alias> {
      const alias = normaliseAliasAddress(aliasAddress);
      await requireDomain(alias.domain);
      if (targets.length === 0) throw new AdminError("invalid-argument", "an alias needs at least one target account");
      if (!alias.address.startsWith("@") && (await accounts.findAccountByAddress(alias.address))) {
        throw new AdminError("conflict", `${alias.address} is already a user`);
      }
      const resolved: string[] = [];
      for (const target of targets) resolved.push((await requireAccount(target)).address);
      return translate(() => accounts.addAlias(alias.address, resolved), `alias ${alias.address}`);
    },
    async deleteAlias(aliasAddress: string, targets?: string[]): Promise<void> {
      const alias = normaliseAliasAddress(aliasAddress);
      const normalisedTargets = targets?.length ? targets.map((t) => normaliseAddress(t).address) : undefined;
      await translate(() => accounts.deleteAlias(alias.address, normalisedTargets), `alias ${alias.address}`);
    },
    async listAliases(domain?: string): Promise<Alias[]> {
      return accounts.listAliases(domain === undefined ? undefined : normaliseDomain(domain));
    },
    /** Queue, DKIM and DNS operations; throws when the outbound side is not configured. */
    get outbound(): OutboundOperations {
      if (outbound === null) throw new AdminError("refused", "outbound administration is not available here");
      return outbound;
    },
  };
}

export type AdminOperations = ReturnType<typeof createAdminOperations>;

function viewOf(account: Account): AccountView {
  return { address: account.address, quotaBytes: account.quotaBytes, usedBytes: account.usedBytes, pop3: account.pop3, createdAt: account.createdAt };
}

/** Store errors become operator errors with words an operator understands. */
async function translate<T>(operation: () => Promise<T>, subject: string): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    if (isStoreError(err, "ALREADYEXISTS")) throw new AdminError("conflict", `${subject} already exists`);
    if (isStoreError(err, "NONEXISTENT")) throw new AdminError("not-found", `${subject} does not exist`);
    if (isStoreError(err, "HASACCOUNTS")) throw new AdminError("refused", `${subject} still has users or aliases; delete them first`);
    if (isStoreError(err, "INVALID") || isStoreError(err, "CANNOT")) throw new AdminError("invalid-argument", `${subject}: ${err.message}`);
    throw err;
  }
}
