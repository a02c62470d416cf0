// The whole composed server (config -> store -> TLS -> every protocol -> listeners) in this
// process, from TOML text, on a fresh data directory; and a client-side TLS opener that speaks
// each listener's way into TLS (implicit, or the protocol's STARTTLS / STLS command).
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { connect as connectTcp, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as connectTls, type ConnectionOptions, type TLSSocket } from "node:tls";
import { parseConfigText, type ListenerProtocol } from "../../src/config/index.js";
import type { Logger } from "../../src/observability/log.js";
import { silentLogger } from "../../src/observability/log.js";
import { startServer, type RunningServer } from "../../src/server/compose.js";

export interface FullServer {
  server: RunningServer;
  dataDir: string;
  portOf(protocol: ListenerProtocol): number;
  stop(): Promise<void>;
}

/** Every protocol on `address` (port 0 each), with cheap password hashing; `extraToml` adds sections. */
export async function startFullServer(
  options: { address?: string; extraToml?: string; serverToml?: string; /** More [auth] keys (throttle limits). */ authToml?: string; log?: Logger; protocols?: ListenerProtocol[]; /** Reused (a restart), and left in place by stop(). */ dataDir?: string } = {},
): Promise<FullServer> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "mailroom-full-")));
  const protocols = options.protocols ?? ["smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s"];
  const listeners = protocols.map((protocol) => `[[listeners]]\nprotocol = "${protocol}"\naddress = "${options.address ?? "127.0.0.1"}"\nport = 0\n`).join("");
  // HTTP on ports 0 unless the test configures [http]: tests run as root and must not take 80/443.
  const http = options.extraToml?.includes("[http]") ? "" : "[http]\nhttp_port = 0\nhttps_port = 0\naddress = \"127.0.0.1\"\n";
  const toml = `[server]\nhostname = "mx.example.org"\ndata_dir = ${JSON.stringify(dataDir)}\n${options.serverToml ?? ""}\n[auth]\nargon2_memory_kib = 1024\nargon2_time_cost = 1\n${options.authToml ? `${options.authToml}\n` : ""}${http}${options.extraToml ?? ""}\n${listeners}`;
  const config = parseConfigText(toml, { cwd: dataDir, env: {} });
  let server: RunningServer;
  try {
    server = await startServer(config, options.log ?? silentLogger);
  } catch (error) {
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    server,
    dataDir,
    portOf(protocol) {
      const bound = server.listeners.bound.find((l) => l.protocol === protocol);
      if (bound === undefined) throw new Error(`no ${protocol} listener`);
      return bound.port;
    },
    async stop() {
      await server.stop("test over");
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The protocol command that starts TLS, the reply that says go, and what comes before it. */
const STARTTLS: Partial<Record<ListenerProtocol, { greeting: RegExp; steps: [string, RegExp][] }>> = {
  smtp: { greeting: /^220 .*\r\n$/m, steps: [["EHLO client.example\r\n", /^250 .*\r\n$/m], ["STARTTLS\r\n", /^220 .*\r\n$/m]] },
  submission: { greeting: /^220 .*\r\n$/m, steps: [["EHLO client.example\r\n", /^250 .*\r\n$/m], ["STARTTLS\r\n", /^220 .*\r\n$/m]] },
  imap: { greeting: /^\* OK.*\r\n$/m, steps: [["a1 STARTTLS\r\n", /^a1 OK.*\r\n$/m]] },
  pop3: { greeting: /^\+OK.*\r\n$/m, steps: [["STLS\r\n", /^\+OK.*\r\n$/m]] },
  managesieve: { greeting: /^OK .*\r\n$/m, steps: [["STARTTLS\r\n", /^OK .*\r\n$/m]] },
};

/** Waits for text matching `pattern` on a plaintext socket (consuming what arrived). */
async function expect(socket: Socket, pattern: RegExp): Promise<void> {
  let text = "";
  while (!pattern.test(text)) {
    const chunk = socket.read() as Buffer | null;
    if (chunk !== null) {
      text += chunk.toString("latin1");
      continue;
    }
    if (socket.readableEnded || socket.destroyed) throw new Error(`connection ended waiting for ${pattern}; got ${JSON.stringify(text)}`);
    await Promise.race([once(socket, "readable"), once(socket, "close")]);
  }
}

/**
 * A TLS connection to a listener, through its protocol's STARTTLS when it is not implicit TLS.
 * Resolves once the handshake is done; rejects with the client's TLS error when it fails.
 */
export async function openTls(protocol: ListenerProtocol, host: string, port: number, tls: ConnectionOptions = {}): Promise<TLSSocket> {
  const dialog = STARTTLS[protocol];
  let socket: Socket | undefined;
  if (dialog !== undefined) {
    socket = connectTcp({ host, port });
    socket.on("error", () => undefined);
    try {
      await once(socket, "connect");
      await expect(socket, dialog.greeting);
      for (const [command, reply] of dialog.steps) {
        socket.write(command);
        await expect(socket, reply);
      }
    } catch (error) {
      socket.destroy();
      throw error;
    }
  }
  const secure = connectTls({ ...(socket ? { socket } : { host, port }), servername: "localhost", rejectUnauthorized: false, ...tls });
  try {
    await once(secure, "secureConnect");
  } catch (error) {
    secure.destroy();
    throw error;
  }
  return secure;
}
