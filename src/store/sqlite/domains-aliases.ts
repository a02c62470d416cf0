// Local domains and aliases. An alias maps an address (or `@domain`, the domain's catch-all) to
// one or more target addresses; resolution order (exact, +tag, catch-all) is delivery's job.
import { StoreError } from "../errors.js";
import type { Alias, Domain, DomainId } from "../types.js";
import { normaliseDomain, parseAddress } from "./addresses.js";
import { type DomainRow, toAliases, toDomain } from "./rows.js";
import type { StoreContext } from "./store-context.js";

export function addDomain(ctx: StoreContext, rawName: string): Domain {
  const name = normaliseDomain(rawName);
  if (ctx.sql.get("SELECT 1 FROM domains WHERE name = ?", name)) throw new StoreError("ALREADYEXISTS", `domain ${name} already exists`);
  const row = ctx.sql.get<DomainRow>("INSERT INTO domains (name, created_at) VALUES (?, ?) RETURNING id, name, created_at", name, ctx.clock().getTime());
  return toDomain(row!);
}

export function listDomains(ctx: StoreContext): Domain[] {
  return ctx.sql.all<DomainRow>("SELECT id, name, created_at FROM domains ORDER BY name").map(toDomain);
}

export function findDomainId(ctx: StoreContext, name: string): DomainId | null {
  const row = ctx.sql.get<{ id: number }>("SELECT id FROM domains WHERE name = ?", name);
  return row ? (row.id as DomainId) : null;
}

export function requireDomainId(ctx: StoreContext, name: string): DomainId {
  const id = findDomainId(ctx, name);
  if (id === null) throw new StoreError("NONEXISTENT", `${name} is not a local domain`);
  return id;
}

export function deleteDomain(ctx: StoreContext, rawName: string): void {
  const name = normaliseDomain(rawName);
  const id = requireDomainId(ctx, name);
  const inUse = ctx.sql.get("SELECT 1 FROM accounts WHERE domain_id = ? UNION ALL SELECT 1 FROM aliases WHERE domain_id = ? LIMIT 1", id, id);
  if (inUse) throw new StoreError("HASACCOUNTS", `domain ${name} still has accounts or aliases`);
  ctx.sql.run("DELETE FROM domains WHERE id = ?", id);
}

export function isLocalDomain(ctx: StoreContext, rawName: string): boolean {
  try {
    return findDomainId(ctx, normaliseDomain(rawName)) !== null;
  } catch {
    return false;
  }
}

export function addAlias(ctx: StoreContext, rawAddress: string, targets: readonly string[]): Alias {
  const alias = parseAddress(rawAddress, { allowCatchAll: true });
  const domainId = requireDomainId(ctx, alias.domain);
  if (!Array.isArray(targets) || targets.length === 0) throw new StoreError("INVALID", "an alias needs at least one target");
  const existing = ctx.sql.get<{ address: string; position: number }>(
    "SELECT address, max(position) AS position FROM aliases WHERE address_key = ? GROUP BY address",
    alias.key,
  );
  let position = existing?.position ?? 0;
  for (const rawTarget of targets) {
    const target = parseAddress(rawTarget);
    ctx.sql.run(
      "INSERT OR IGNORE INTO aliases (address_key, address, domain_id, target, target_key, position) VALUES (?, ?, ?, ?, ?, ?)",
      alias.key,
      existing?.address ?? alias.address,
      domainId,
      target.address,
      target.key,
      ++position,
    );
  }
  return findAlias(ctx, alias.address)!;
}

export function deleteAlias(ctx: StoreContext, rawAddress: string, targets?: readonly string[]): void {
  const alias = parseAddress(rawAddress, { allowCatchAll: true });
  if (!ctx.sql.get("SELECT 1 FROM aliases WHERE address_key = ?", alias.key)) throw new StoreError("NONEXISTENT", `no alias ${alias.address}`);
  if (targets === undefined) {
    ctx.sql.run("DELETE FROM aliases WHERE address_key = ?", alias.key);
    return;
  }
  for (const rawTarget of targets) ctx.sql.run("DELETE FROM aliases WHERE address_key = ? AND target_key = ?", alias.key, parseAddress(rawTarget).key);
}

export function listAliases(ctx: StoreContext, rawDomain?: string): Alias[] {
  const rows =
    rawDomain === undefined
      ? ctx.sql.all<{ address: string; target: string }>("SELECT address, target FROM aliases ORDER BY address_key, position")
      : ctx.sql.all<{ address: string; target: string }>(
          "SELECT a.address, a.target FROM aliases a JOIN domains d ON d.id = a.domain_id WHERE d.name = ? ORDER BY a.address_key, a.position",
          normaliseDomain(rawDomain),
        );
  return toAliases(rows);
}

export function findAlias(ctx: StoreContext, rawAddress: string): Alias | null {
  let key: string;
  try {
    key = parseAddress(rawAddress, { allowCatchAll: true }).key;
  } catch {
    return null;
  }
  const rows = ctx.sql.all<{ address: string; target: string }>("SELECT address, target FROM aliases WHERE address_key = ? ORDER BY position", key);
  return toAliases(rows)[0] ?? null;
}

/** Drops `address` from every alias's targets (the account is going away). */
export function removeAliasTarget(ctx: StoreContext, targetKey: string): void {
  ctx.sql.run("DELETE FROM aliases WHERE target_key = ?", targetKey);
}
