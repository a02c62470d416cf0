// Issue #13 (io): per-RETR cost of a client that sends one command at a time (no pipelining), the
// way most POP3 clients and Dovecot's comparison figure (0.23 ms) work. Prints the median over 3
// runs of the mean milliseconds per RETR of 1,000 x 5 KB messages, and the same for 100 x 1 MB.
//   npx tsc -p tsconfig.json && node dist/bench/io-pop3-retr.js
import { connect, type Socket } from "node:net";
import { once } from "node:events";
import { startPop3Harness } from "../test/harness/pop3-harness.js";

function message(serial: number, bytes: number): Buffer {
  const header = `From: bench@example.net\r\nTo: alice@example.org\r\nSubject: bench ${serial}\r\n\r\n`;
  const line = "The quick brown fox jumps over the lazy dog, again and again and again.\r\n";
  return Buffer.from((header + line.repeat(Math.ceil(bytes / line.length))).slice(0, bytes - 2) + "\r\n", "latin1");
}

class Lines {
  /** Only the unconsumed tail that could still hold the start of a marker is kept (never a whole body). */
  #buf: Buffer = Buffer.alloc(0);
  #wait: (() => void) | null = null;
  constructor(socket: Socket) {
    socket.on("data", (c: Buffer) => {
      this.#buf = this.#buf.length === 0 ? c : Buffer.concat([this.#buf, c]);
      this.#wait?.();
    });
  }
  /** Resolves once `marker` is in the stream; drops everything through it. */
  async until(marker: string): Promise<void> {
    for (;;) {
      const at = this.#buf.indexOf(marker, 0, "latin1");
      if (at >= 0) {
        this.#buf = this.#buf.subarray(at + marker.length);
        return;
      }
      this.#buf = this.#buf.subarray(Math.max(0, this.#buf.length - marker.length + 1));
      await new Promise<void>((resolve) => (this.#wait = resolve));
    }
  }
}

async function run(count: number, size: number): Promise<number> {
  const h = await startPop3Harness({ allowPlaintextAuth: true });
  try {
    for (let i = 0; i < count; i++) await h.deliver(h.accounts.alice, message(i, size));
    const socket = connect(h.ports.pop3, "127.0.0.1");
    await once(socket, "connect");
    const lines = new Lines(socket);
    await lines.until("\r\n");
    socket.write(`USER ${h.accounts.alice.address}\r\n`);
    await lines.until("\r\n");
    socket.write(`PASS ${"alice-pass"}\r\n`);
    await lines.until("\r\n");
    const started = process.hrtime.bigint();
    for (let n = 1; n <= count; n++) {
      socket.write(`RETR ${n}\r\n`);
      await lines.until("\r\n.\r\n");
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    socket.write("QUIT\r\n");
    await lines.until("\r\n");
    socket.destroy();
    return ms / count;
  } finally {
    await h.stop();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const cases = [[1000, 5 * 1024, "1,000 x 5 KB"], [100, 1024 * 1024, "100 x 1 MB"]] as const;
for (const [count, size, label] of cases.filter((c) => process.argv[2] === undefined || c[2].includes(process.argv[2]!))) {
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) runs.push(await run(count, size));
  console.log(`RETR one at a time, ${label}: median ${median(runs).toFixed(3)} ms per RETR (runs ${runs.map((v) => v.toFixed(3)).join(", ")})`);
}
