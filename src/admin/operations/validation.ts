// Checks on the names an administrator types: domain names and account addresses. The stricter
// protocol grammars live in mail/address.ts; these only keep garbage out of the account tables.

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Lower-cases and IDNA-encodes a domain name; throws AdminError on anything that is not one. */
export function normaliseDomain(input: string): string {
  const trimmed = input.trim().replace(/\.$/, "");
  const ascii = domainToAscii(trimmed);
  if (!ascii || ascii.length > 253) throw new AdminError("invalid-argument", `not a domain name: ${JSON.stringify(input)}`);
  const labels = ascii.split(".");
  if (labels.length < 2 || !labels.every((label) => LABEL.test(label))) {
    throw new AdminError("invalid-argument", `not a domain name: ${JSON.stringify(input)}`);
  }
  return ascii;
}

function domainToAscii(name: string): string {
  try {
    // WHATWG URL host parsing applies UTS #46 (IDNA) mapping and punycode.
    return new URL(`http://${name}/`).hostname;
  } catch {
    return "";
  }
}

/** `local@domain` with the domain normalised; the local part must be a dot-atom (RFC 5322 §3.4.1). */
export function normaliseAddress(input: string): { address: string; localPart: string; domain: string } {
  const at = input.lastIndexOf("@");
  if (at <= 0) throw new AdminError("invalid-argument", `not an address: ${JSON.stringify(input)}`);
  const localPart = input.slice(0, at).trim().toLowerCase();
  const domain = normaliseDomain(input.slice(at + 1));
  if (!isDotAtom(localPart) || Buffer.byteLength(localPart) > 64) {
    throw new AdminError("invalid-argument", `not an address: ${JSON.stringify(input)} (local part must be a dot-atom of at most 64 octets)`);
  }
  return { address: `${localPart}@${domain}`, localPart, domain };
}

/** An alias is an address, or `@domain` for the domain's catch-all. */
export function normaliseAliasAddress(input: string): { address: string; domain: string } {
  if (input.trim().startsWith("@")) {
    const domain = normaliseDomain(input.trim().slice(1));
    return { address: `@${domain}`, domain };
  }
  const { address, domain } = normaliseAddress(input);
  return { address, domain };
}

function isDotAtom(local: string): boolean {
  // atext per RFC 5322 §3.2.3, plus UTF-8 letters (RFC 6532) for internationalised addresses.
  return /^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*$/u.test(local);
}

export type AdminErrorKind = "invalid-argument" | "not-found" | "conflict" | "refused";

/** An error an operator caused; the CLI prints its message and exits with a code per kind. */
export class AdminError extends Error {
  constructor(
    readonly kind: AdminErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "AdminError";
  }
}
