// A DNSSEC lab on loopback for DANE tests: zones signed with ldns-signzone (ldnsutils), served
// by NSD as their authoritative server, and a validating unbound that reaches them as stub zones
// and trusts the signed ones through their DS records (its only trust anchors). What Mailroom
// asks (outbound.dnssec_resolver) is that unbound, so the AD bit it sees is a real validation:
//   - a signed zone answers AD;
//   - an unsigned zone (no anchor above it) answers without AD: insecure;
//   - `tamper` edits the signed zone text after signing, so the changed records fail validation
//     (bogus) and unbound answers SERVFAIL.
// Both daemons run in the foreground on random loopback ports and are killed by stop().
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDnssecClient } from "../../src/net/dns-client.js";

export interface LabZone {
  /** The zone apex, e.g. "b.test". */
  name: string;
  /** Zone file lines relative to the apex ("mx IN A 127.0.0.1"); SOA and NS are added. */
  records: string[];
  /** Signed (and its DS given to unbound as a trust anchor), or served unsigned (insecure). */
  signed: boolean;
  /** Rewrites the signed zone text, e.g. to change a record under its signature. */
  tamper?: (signedZone: string) => string;
}

export interface DnssecLab {
  /** "127.0.0.1:<port>" of the validating resolver. */
  resolver: string;
  dir: string;
  stop(): Promise<void>;
}

/** A port free on 127.0.0.1 for both TCP and UDP right now (the daemons bind it a moment later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function zoneText(zone: LabZone): string {
  return [`$ORIGIN ${zone.name}.`, "$TTL 60", `@ IN SOA ns.${zone.name}. hostmaster.${zone.name}. 1 3600 600 86400 60`, `@ IN NS ns.${zone.name}.`, "ns IN A 127.0.0.1", ...zone.records, ""].join("\n");
}

async function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await once(child, "exit");
  clearTimeout(timer);
}

export async function startDnssecLab(zones: LabZone[], options: { resolverPort?: number } = {}): Promise<DnssecLab> {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-dnssec-"));
  const anchors: string[] = [];
  for (const zone of zones) {
    const file = join(dir, `${zone.name}.zone`);
    await writeFile(file, zoneText(zone));
    if (!zone.signed) continue;
    const keygen = (args: string[]) => execFileSync("ldns-keygen", [...args, "-a", "ECDSAP256SHA256", zone.name], { cwd: dir }).toString().trim();
    const ksk = keygen(["-k"]);
    const zsk = keygen([]);
    execFileSync("ldns-signzone", ["-f", `${file}.signed`, file, ksk, zsk], { cwd: dir });
    if (zone.tamper) await writeFile(`${file}.signed`, zone.tamper(await readFile(`${file}.signed`, "utf8")));
    anchors.push(join(dir, `${ksk}.ds`));
  }
  const nsdPort = await freePort();
  const resolverPort = options.resolverPort ?? (await freePort());
  await writeFile(
    join(dir, "nsd.conf"),
    [
      "server:",
      `  ip-address: 127.0.0.1@${nsdPort}`,
      `  port: ${nsdPort}`,
      '  username: ""',
      '  chroot: ""',
      `  zonesdir: "${dir}"`,
      '  database: ""',
      `  pidfile: "${dir}/nsd.pid"`,
      `  xfrdfile: "${dir}/xfrd.state"`,
      `  zonelistfile: "${dir}/zone.list"`,
      "  server-count: 1",
      "remote-control:",
      "  control-enable: no",
      ...zones.flatMap((zone) => ["zone:", `  name: "${zone.name}"`, `  zonefile: "${zone.name}.zone${zone.signed ? ".signed" : ""}"`]),
      "",
    ].join("\n"),
  );
  await writeFile(
    join(dir, "unbound.conf"),
    [
      "server:",
      `  interface: 127.0.0.1@${resolverPort}`,
      `  port: ${resolverPort}`,
      '  username: ""',
      '  chroot: ""',
      `  directory: "${dir}"`,
      `  pidfile: "${dir}/unbound.pid"`,
      "  use-syslog: no",
      "  do-not-query-localhost: no",
      '  module-config: "validator iterator"',
      "  qname-minimisation: no",
      "  harden-dnssec-stripped: yes",
      "  num-threads: 1",
      "  do-ip6: no",
      "  val-log-level: 2",
      // "test." is special-use (RFC 6761): unbound answers it NXDOMAIN itself unless told not to.
      '  local-zone: "test." nodefault',
      ...anchors.map((file) => `  trust-anchor-file: "${file}"`),
      "remote-control:",
      "  control-enable: no",
      ...zones.flatMap((zone) => ["stub-zone:", `  name: "${zone.name}"`, `  stub-addr: 127.0.0.1@${nsdPort}`]),
      "",
    ].join("\n"),
  );
  const children: ChildProcess[] = [];
  const output: string[] = [];
  const lab: DnssecLab = {
    resolver: `127.0.0.1:${resolverPort}`,
    dir,
    async stop() {
      await Promise.all(children.map(waitForExit));
      await rm(dir, { recursive: true, force: true });
    },
  };
  // NSD first, and only once it answers unbound: a resolver that finds its stub server silent
  // marks it down for a while.
  for (const [command, conf, port] of [
    ["nsd", "nsd.conf", nsdPort],
    ["unbound", "unbound.conf", resolverPort],
  ] as const) {
    const child = spawn(command, ["-d", "-c", join(dir, conf)], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (chunk: Buffer) => output.push(`${command}: ${chunk.toString()}`));
    child.stderr!.on("data", (chunk: Buffer) => output.push(`${command}: ${chunk.toString()}`));
    children.push(child);
    const query = createDnssecClient({ server: { host: "127.0.0.1", port }, timeoutMs: 500, attempts: 1 });
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) {
        await lab.stop();
        throw new Error(`DNSSEC lab: ${command} exited: ${output.join("")}`);
      }
      const answer = await query(`ns.${zones[0]!.name}`, "A");
      if (answer.kind === "answer" && answer.records.length > 0) break;
      if (Date.now() > deadline) {
        await lab.stop();
        throw new Error(`DNSSEC lab: no answer from ${command} in 30 s: ${JSON.stringify(answer)} ${output.join("")}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return lab;
}
