// Certificates for tests, made with the openssl CLI (Debian's openssl, installed by .ci/run):
// self-signed, with a chosen name and validity window (past or future, which `openssl req -x509`
// cannot do: `openssl ca -selfsign` takes explicit dates).
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const exec = promisify(execFile);

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

const CA_CONFIG = `[ca]
default_ca = test
[test]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
`;

/** openssl's date form for -startdate/-enddate. */
function opensslDate(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, "").replace(/\.\d+Z$/, "Z");
}

/** Writes <name>.crt and <name>.key into dir; P-256 key, subjectAltName DNS:hostname. */
export async function makeCertificate(dir: string, name: string, options: { hostname: string; notBefore: Date; notAfter: Date }): Promise<TestCertificate> {
  const work = await mkdtemp(join(dir, "openssl-"));
  try {
    await writeFile(join(work, "ca.cnf"), CA_CONFIG);
    await writeFile(join(work, "index.txt"), "");
    await writeFile(join(work, "serial"), "01\n");
    const key = join(work, "key.pem");
    const csr = join(work, "req.csr");
    const cert = join(work, "cert.pem");
    await exec("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-subj", `/CN=${options.hostname}`, "-addext", `subjectAltName=DNS:${options.hostname}`, "-out", csr]);
    const dates = ["-startdate", opensslDate(options.notBefore), "-enddate", opensslDate(options.notAfter)];
    await exec("openssl", ["ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", key, "-in", csr, ...dates, "-notext", "-out", cert], { cwd: work });
    const certPem = await readFile(cert, "utf8");
    const keyPem = await readFile(key, "utf8");
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    await writeFile(certFile, certPem);
    await writeFile(keyFile, keyPem, { mode: 0o600 });
    return { certFile, keyFile, certPem, keyPem };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
