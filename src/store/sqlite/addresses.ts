// Address and domain keys. Domains are compared case-insensitively (RFC 5321 §2.4) and, by the
// convention of Postfix and Dovecot, so are local parts; the local part is kept as first given
// for display. These rules are backend-neutral and move down to store/ with a second backend.
import { StoreError } from "../errors.js";

export interface ParsedAddress {
  /** Local part as given ("" for a catch-all `@domain`). */
  local: string;
  /** Lower-cased domain. */
  domain: string;
  /** `local@domain` with the domain lower-cased: what is stored and shown. */
  address: string;
  /** Fully case-folded: the lookup key. */
  key: string;
}

const FORBIDDEN = /[\s\u0000-\u001f\u007f]/;
/** RFC 5321 §4.5.3.1: 64 octets of local part, 255 of domain; 320 is the usual overall cap. */
const MAX_ADDRESS_LENGTH = 320;

export function normaliseDomain(name: unknown): string {
  if (typeof name !== "string") throw new StoreError("INVALID", "domain name must be a string");
  const domain = name.trim().toLowerCase().replace(/\.$/, "");
  if (domain === "" || domain.length > 255 || FORBIDDEN.test(domain) || domain.includes("@") || domain.startsWith(".") || domain.includes("..")) {
    throw new StoreError("INVALID", `invalid domain name: ${JSON.stringify(name)}`);
  }
  return domain;
}

/** Parses `local@domain`; `@domain` only when `allowCatchAll`. */
export function parseAddress(address: unknown, options: { allowCatchAll?: boolean } = {}): ParsedAddress {
  if (typeof address !== "string") throw new StoreError("INVALID", "address must be a string");
  const at = address.lastIndexOf("@");
  const local = at < 0 ? "" : address.slice(0, at);
  const invalid = () => new StoreError("INVALID", `invalid address: ${JSON.stringify(address)}`);
  if (at < 0 || address.length > MAX_ADDRESS_LENGTH || FORBIDDEN.test(local)) throw invalid();
  if (local === "" && !options.allowCatchAll) throw invalid();
  let domain: string;
  try {
    domain = normaliseDomain(address.slice(at + 1));
  } catch {
    throw invalid();
  }
  const canonical = `${local}@${domain}`;
  return { local, domain, address: canonical, key: canonical.toLowerCase() };
}
