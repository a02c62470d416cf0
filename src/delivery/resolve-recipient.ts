// Recipient address -> the local accounts that receive it. Order, as Postfix's virtual tables
// behave: the account itself, then an alias of that exact address, then the same two without a
// "+tag" (RFC 5233 sub-addressing), then the domain's catch-all. Duplicates collapse, so an
// alias listing an account twice, or two recipients ending at one account, store one copy.
import type { Account, AccountStore } from "../store/index.js";

export type RecipientResolution =
  | { kind: "local"; accounts: Account[]; via: "account" | "alias" | "subaddress" | "catch-all" }
  | { kind: "unknown-user" }
  | { kind: "not-local" };

export interface ResolveOptions {
  /** The sub-address separator; "+" as in Postfix's recipient_delimiter, "" disables. */
  subaddressSeparator?: string;
}

type Lookup = Pick<AccountStore, "findAccountByAddress" | "findAlias" | "isLocalDomain">;

export async function resolveRecipient(store: Lookup, address: string, options: ResolveOptions = {}): Promise<RecipientResolution> {
  const at = address.lastIndexOf("@");
  if (at <= 0) return { kind: "not-local" };
  const localPart = address.slice(0, at).toLowerCase();
  const domain = address.slice(at + 1).toLowerCase();
  if (!(await store.isLocalDomain(domain))) return { kind: "not-local" };

  const direct = await lookupExact(store, `${localPart}@${domain}`);
  if (direct) return { kind: "local", ...direct };

  const separator = options.subaddressSeparator ?? "+";
  const cut = separator ? localPart.indexOf(separator) : -1;
  if (cut > 0) {
    const base = await lookupExact(store, `${localPart.slice(0, cut)}@${domain}`);
    if (base) return { kind: "local", accounts: base.accounts, via: "subaddress" };
  }

  const catchAll = await store.findAlias(`@${domain}`);
  if (catchAll) {
    const accounts = await accountsOf(store, catchAll.targets);
    if (accounts.length > 0) return { kind: "local", accounts, via: "catch-all" };
  }
  return { kind: "unknown-user" };
}

async function lookupExact(store: Lookup, address: string): Promise<{ accounts: Account[]; via: "account" | "alias" } | null> {
  const account = await store.findAccountByAddress(address);
  if (account) return { accounts: [account], via: "account" };
  const alias = await store.findAlias(address);
  if (!alias) return null;
  const accounts = await accountsOf(store, alias.targets);
  return accounts.length > 0 ? { accounts, via: "alias" } : null;
}

async function accountsOf(store: Lookup, addresses: readonly string[]): Promise<Account[]> {
  const seen = new Map<number, Account>();
  for (const target of addresses) {
    const account = await store.findAccountByAddress(target);
    if (account && !seen.has(account.id)) seen.set(account.id, account);
  }
  return [...seen.values()];
}
