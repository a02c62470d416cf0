// A test certificate authority for outbound TLS tests: certificates it issues are valid only for
// the names given and only to a client that trusts this CA (passed as an extra trust anchor), so
// tests can check that verification really happens (a wrong name or another CA fails).
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generate } from "selfsigned";

export interface TestCa {
  cert: string;
  key: string;
}

export interface IssuedCert {
  cert: string;
  key: string;
  /** The PEM files, written into the given directory. */
  certFile: string;
  keyFile: string;
}

export async function createTestCa(name = "Mailroom Test CA"): Promise<TestCa> {
  const ca = await generate([{ name: "commonName", value: name }], {
    keyType: "ec",
    algorithm: "sha256",
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: ca.cert, key: ca.private };
}

/** A server certificate for `names`, signed by `ca`, written as <dir>/<first name>.{crt,key}. */
export async function issueCert(ca: TestCa, names: string[], dir: string): Promise<IssuedCert> {
  const issued = await generate([{ name: "commonName", value: names[0]! }], {
    keyType: "ec",
    algorithm: "sha256",
    ca: { key: ca.key, cert: ca.cert },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: names.map((value) => ({ type: 2, value })) },
    ],
  });
  const certFile = join(dir, `${names[0]}.crt`);
  const keyFile = join(dir, `${names[0]}.key`);
  await writeFile(certFile, issued.cert);
  await writeFile(keyFile, issued.private, { mode: 0o600 });
  return { cert: issued.cert, key: issued.private, certFile, keyFile };
}
