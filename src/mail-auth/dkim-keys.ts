// Per-domain DKIM keys on disk: one Ed25519 (RFC 8463) and one RSA-2048 (RFC 8301) key per
// domain, each under its own selector, so receivers that know Ed25519 verify the short key and
// the others the RSA one (RFC 8463 §6 recommends signing with both). Layout:
//   <keyDir>/<domain>/<selector>.pem    the private key (mode 0600)
//   <keyDir>/<domain>/active.json       which selectors sign now: [{ selector, algorithm }]
// Rotation writes new selectors and switches active.json; old keys stay so their DNS records can
// be kept until mail signed with them has been verified (RFC 6376 §3.6.1 s= lifecycle).
// With the PostgreSQL backend the keys live in the database instead (store/node-state-store.ts,
// table dkim_keys): every node signs with the same selectors, and a new node needs no files.
// Callers pass where the keys are: a directory (embedded) or a DkimKeyStore (shared).
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import type { DkimKeyStore } from "../store/index.js";
import { signOutbound, type DkimAlgorithm } from "./sign-outbound.js";

/** Where a server's DKIM keys live: a directory (embedded store) or the shared store. */
export type DkimKeyLocation = string | DkimKeyStore;

export interface DkimKey {
  selector: string;
  algorithm: DkimAlgorithm;
  privateKeyPem: string;
}

export interface DkimKeySet {
  domain: string;
  keys: DkimKey[];
}

interface ActiveEntry {
  selector: string;
  algorithm: DkimAlgorithm;
}

const DOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const SELECTOR = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function domainDir(keyDir: string, domain: string): string {
  const name = domain.toLowerCase();
  // The domain names a directory: refuse anything that is not a plain host name.
  if (!DOMAIN.test(name)) throw new RangeError(`not a domain name: ${domain}`);
  return join(keyDir, name);
}

/** The keys that sign for `domain` now, or null when it has none. */
export async function loadDkimKeys(location: DkimKeyLocation, domain: string): Promise<DkimKeySet | null> {
  if (typeof location !== "string") {
    if (!DOMAIN.test(domain.toLowerCase())) throw new RangeError(`not a domain name: ${domain}`);
    const stored = await location.loadDkimKeys(domain.toLowerCase());
    return stored === null ? null : { domain: domain.toLowerCase(), keys: stored.map((key) => ({ ...key })) };
  }
  const keyDir = location;
  const dir = domainDir(keyDir, domain);
  let active: ActiveEntry[];
  try {
    active = JSON.parse(await readFile(join(dir, "active.json"), "utf8")) as ActiveEntry[];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  const keys: DkimKey[] = [];
  for (const { selector, algorithm } of active) {
    if (!SELECTOR.test(selector)) throw new RangeError(`bad selector in ${join(dir, "active.json")}: ${selector}`);
    keys.push({ selector, algorithm, privateKeyPem: await readFile(join(dir, `${selector}.pem`), "utf8") });
  }
  return { domain: domain.toLowerCase(), keys };
}

/**
 * Makes a new Ed25519 + RSA pair under fresh selectors `<base>-ed25519` and `<base>-rsa` and makes
 * them the active ones. With `rotate`, the base gets today's date (and a counter if taken), so the
 * previous selectors stay valid in DNS during the changeover.
 */
export async function generateDkimKeys(location: DkimKeyLocation, domain: string, baseSelector: string, options: { rotate?: boolean; now?: Date } = {}): Promise<DkimKeySet> {
  if (!DOMAIN.test(domain.toLowerCase())) throw new RangeError(`not a domain name: ${domain}`);
  const configured = baseSelector.toLowerCase();
  let base = configured;
  if (options.rotate) {
    const day = (options.now ?? new Date()).toISOString().slice(0, 10).replace(/-/g, "");
    const previous = (await loadDkimKeys(location, domain))?.keys.map((k) => k.selector) ?? [];
    base = `${configured}-${day}`;
    for (let n = 2; previous.includes(`${base}-ed25519`); n++) base = `${configured}-${day}-${n}`;
  }
  if (!SELECTOR.test(base)) throw new RangeError(`not a DKIM selector: ${base}`);
  const ed = generateKeyPairSync("ed25519");
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keys: DkimKey[] = [
    { selector: `${base}-ed25519`, algorithm: "ed25519-sha256", privateKeyPem: ed.privateKey.export({ type: "pkcs8", format: "pem" }) as string },
    { selector: `${base}-rsa`, algorithm: "rsa-sha256", privateKeyPem: rsa.privateKey.export({ type: "pkcs8", format: "pem" }) as string },
  ];
  if (typeof location !== "string") {
    // One transaction: the new keys and the switch of the active set (node-state.ts).
    await location.saveDkimKeys(domain.toLowerCase(), keys);
    return { domain: domain.toLowerCase(), keys };
  }
  const dir = domainDir(location, domain);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const key of keys) await writeFile(join(dir, `${key.selector}.pem`), key.privateKeyPem, { mode: 0o600 });
  // Written aside and renamed, so a signer never reads half a file.
  const active: ActiveEntry[] = keys.map(({ selector, algorithm }) => ({ selector, algorithm }));
  await writeFile(join(dir, "active.json.tmp"), JSON.stringify(active, null, 2) + "\n", { mode: 0o600 });
  await rename(join(dir, "active.json.tmp"), join(dir, "active.json"));
  return { domain: domain.toLowerCase(), keys };
}

/** The TXT record for `<selector>._domainkey.<domain>` (RFC 6376 §3.6.1, RFC 8463 §4.2). */
export function dkimTxtRecord(key: DkimKey): string {
  const publicKey = createPublicKey(createPrivateKey(key.privateKeyPem));
  const spki = publicKey.export({ type: "spki", format: "der" });
  if (key.algorithm === "ed25519-sha256") {
    // RFC 8463 §4.2: the bare 32-octet public key, not the SubjectPublicKeyInfo around it.
    return `v=DKIM1; k=ed25519; p=${spki.subarray(spki.length - 32).toString("base64")}`;
  }
  return `v=DKIM1; k=rsa; p=${spki.toString("base64")}`;
}

/** Every DKIM-Signature field for the message, one per active key, concatenated. */
export async function signWithKeys(open: () => Readable, keys: DkimKeySet, signTime?: Date): Promise<string> {
  const fields: string[] = [];
  for (const key of keys.keys) {
    fields.push(await signOutbound(open(), { domain: keys.domain, selector: key.selector, privateKeyPem: key.privateKeyPem, algorithm: key.algorithm, ...(signTime ? { signTime } : {}) }));
  }
  return fields.join("");
}
