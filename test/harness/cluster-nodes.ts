// Several real `mailroom serve` processes on one PostgreSQL database, for the multi-node tests
// (issue 15): each node has its own directory with its own config file (its own server.hostname,
// so a receiving test server can tell the nodes apart by EHLO name) and data dir; the store is the
// database. Accounts are added once with the CLI, as an operator would, against the database.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess, type TestListener } from "./mailroom-process.js";

export type ServeProcess = Awaited<ReturnType<typeof startServeProcess>>;

export interface ClusterNode {
  name: string;
  hostname: string;
  env: NodeJS.ProcessEnv;
  process: ServeProcess;
  port(protocol: string): number;
}

export interface TestCluster {
  nodes: ClusterNode[];
  dir: string;
  /** Stops every node still running (SIGTERM, SIGKILL for killed ones is harmless) and removes the files. */
  cleanup(): Promise<void>;
}

export async function startClusterNodes(options: {
  count: number;
  url: string;
  listeners: TestListener[];
  /** More TOML after [store] (tables such as [outbound], [abuse]). */
  extra?: string;
  auth?: string;
  users?: { address: string; password: string }[];
}): Promise<TestCluster> {
  const scratch = await makeScratch();
  const nodes: ClusterNode[] = [];
  const envOf = async (index: number) => {
    const name = String.fromCharCode(97 + index);
    const dir = join(scratch.dir, `node-${name}`);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const dataDir = join(dir, "data");
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const hostname = `node-${name}.example.org`;
    const configFile = join(dir, "mailroom.toml");
    await writeFile(
      configFile,
      serveConfig({
        listeners: options.listeners,
        hostname,
        plaintextAuthOnLoopback: true,
        ...(options.auth ? { auth: options.auth } : {}),
        extra: `[store]\nbackend = "postgresql"\nurl = "${options.url}"\n${options.extra ?? ""}`,
      }),
    );
    return { name, hostname, env: { MAILROOM_CONFIG: configFile, MAILROOM_DATA_DIR: dataDir } as NodeJS.ProcessEnv };
  };
  try {
    const first = await envOf(0);
    assert.equal((await runMailroom(["domain", "add", "example.org"], { env: first.env })).code, 0);
    for (const user of options.users ?? [{ address: "alice@example.org", password: "a long password" }]) {
      const added = await runMailroom(["user", "add", user.address], { env: first.env, input: `${user.password}\n` });
      assert.equal(added.code, 0, added.stderr);
    }
    const specs = [first];
    for (let i = 1; i < options.count; i++) specs.push(await envOf(i));
    const started = await Promise.all(specs.map((spec) => startServeProcess(spec.env)));
    specs.forEach((spec, i) => {
      const process = started[i]!;
      nodes.push({ ...spec, process, port: (protocol) => listenerPort(process.banner, protocol) });
    });
  } catch (error) {
    await Promise.all(nodes.map((n) => n.process.stop("SIGKILL")));
    await scratch.cleanup();
    throw error;
  }
  return {
    nodes,
    dir: scratch.dir,
    async cleanup() {
      await Promise.all(nodes.map((n) => n.process.stop()));
      await scratch.cleanup();
    },
  };
}

/** Lines a child prints, kept as they come (for clients killed or stopped mid-run). */
export function collectLines(stream: NodeJS.ReadableStream | null): string[] {
  const lines: string[] = [];
  let partial = "";
  stream?.on("data", (chunk: Buffer) => {
    partial += chunk.toString();
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts.filter((l) => l.length > 0));
  });
  return lines;
}
