// A real pebble (Let's Encrypt's test CA, Debian's `pebble`) for ACME tests, validating through a
// loopback DNS server that maps the given names to 127.0.0.1; used by test/e2e/acme.test.ts and the
// multi-node ACME test (test/e2e/postgresql-acme-nodes.test.ts).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, connect as connectTcp, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startDnsServer, type TestDnsServer } from "./dns-server.js";

const exec = promisify(execFile);

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Pebble {
  dir: string;
  caFile: string;
  directoryUrl: string;
  managementPort: number;
  /** Ports pebble validates on: one Mailroom's HTTP and HTTPS ports must be these. */
  httpPort: number;
  tlsPort: number;
  dns: TestDnsServer;
  stop(): Promise<void>;
}

/** Whether the pebble binary is installed (.ci/run installs it). */
export async function pebbleAvailable(): Promise<boolean> {
  try {
    await exec("sh", ["-c", "command -v pebble"]);
    return true;
  } catch {
    return false;
  }
}

/** A pebble with its own HTTPS certificate (self-signed, 127.0.0.1), validating through our DNS. */
export async function startPebble(names: string[], options: { validitySeconds?: number } = {}): Promise<Pebble> {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-pebble-"));
  const caFile = join(dir, "pebble.crt");
  const keyFile = join(dir, "pebble.key");
  await exec("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyFile, "-out", caFile, "-days", "2", "-subj", "/CN=pebble", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]);
  const dns = await startDnsServer(Object.fromEntries(names.map((name) => [name, { A: ["127.0.0.1"] }])));
  const [listenPort, managementPort, httpPort, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${listenPort}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: caFile,
      privateKey: keyFile,
      httpPort,
      tlsPort,
      ocspResponderURL: "",
      externalAccountBindingRequired: false,
      ...(options.validitySeconds === undefined ? {} : { certificateValidityPeriod: options.validitySeconds }),
    },
  };
  await writeFile(join(dir, "pebble.json"), JSON.stringify(config));
  const child: ChildProcess = spawn("pebble", ["-config", join(dir, "pebble.json"), "-dnsserver", `127.0.0.1:${dns.port}`], {
    stdio: ["ignore", "pipe", "pipe"],
    // No random nonce rejections or reused authorizations: every order validates, deterministically.
    env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" },
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`pebble exited: ${output}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = connectTcp(listenPort, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (up) break;
    if (i > 100) throw new Error(`pebble did not listen: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    dir,
    caFile,
    directoryUrl: `https://127.0.0.1:${listenPort}/dir`,
    managementPort,
    httpPort,
    tlsPort,
    dns,
    async stop() {
      child.kill("SIGTERM");
      if (child.exitCode === null) await once(child, "exit");
      await dns.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
