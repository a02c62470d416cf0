// POP3 download-and-delete throughput of Mailroom over loopback: one session downloads every
// message of the INBOX with RETR and marks it with DELE, all pipelined in one write (RFC 2449
// PIPELINING), then QUIT commits the removals. Two workloads, 1,000 × 5 KB and 100 × 1 MB, each
// run 3 times on a fresh temp store; prints the median seconds (login to QUIT's answer), the
// payload rate, and the median time of the first STAT (which counts octets as sent, reading each
// message once: pop3/sent-size-cache.ts). The Dovecot comparison lives in the bench framework
// (bench/run.ts); this script measures Mailroom alone.
//   npm run build && node dist/bench/pop3-download.js
import { connect, type Socket } from "node:net";
import { once } from "node:events";
import { startPop3Harness } from "../test/harness/pop3-harness.js";

const RUNS = 3;
const TERMINATOR = Buffer.from("\r\n.\r\n");

function message(serial: number, bytes: number): Buffer {
  const header = `From: bench@example.net\r\nTo: alice@example.org\r\nSubject: bench ${serial}\r\nMessage-ID: <${serial}.${process.pid}@bench>\r\n\r\n`;
  const line = "The quick brown fox jumps over the lazy dog, again and again and again.\r\n";
  const body = line.repeat(Math.ceil((bytes - header.length) / line.length) + 1);
  const text = (header + body).slice(0, bytes - 2) + "\r\n";
  return Buffer.from(text, "latin1");
}

/** Reads a POP3 response stream: status lines, and multi-line bodies counted without copying. */
class ResponseReader {
  #chunks: Buffer[] = [];
  #waiter: (() => void) | null = null;
  #ended = false;

  constructor(socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#wake();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
  }

  async line(): Promise<string> {
    for (;;) {
      const joined = this.#join();
      const end = joined.indexOf("\r\n");
      if (end >= 0) {
        this.#chunks = end + 2 < joined.length ? [joined.subarray(end + 2)] : [];
        return joined.subarray(0, end).toString("latin1");
      }
      await this.#more();
    }
  }

  /** Octets of a multi-line body: everything before the final ".\r\n". Carry bytes are counted once confirmed. */
  async body(): Promise<number> {
    let octets = 0;
    let carry = Buffer.alloc(0);
    for (;;) {
      const chunk = this.#chunks.shift();
      if (chunk === undefined) {
        await this.#more();
        continue;
      }
      const window = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const at = window.indexOf(TERMINATOR);
      if (at >= 0) {
        octets += at + 2;
        const rest = window.subarray(at + TERMINATOR.length);
        if (rest.length > 0) this.#chunks.unshift(rest);
        return octets;
      }
      const keep = Math.min(window.length, TERMINATOR.length - 1);
      octets += window.length - keep;
      carry = Buffer.from(window.subarray(window.length - keep));
    }
  }

  #join(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }

  async #more(): Promise<void> {
    if (this.#ended) throw new Error("connection closed");
    await new Promise<void>((resolve) => (this.#waiter = resolve));
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.();
  }
}

interface RunResult {
  seconds: number;
  statSeconds: number;
  octets: number;
}

async function downloadAll(count: number, size: number): Promise<RunResult> {
  const h = await startPop3Harness({ allowPlaintextAuth: true });
  try {
    for (let i = 0; i < count; i++) await h.deliver(h.accounts.alice, message(i, size));
    const started = process.hrtime.bigint();
    const socket = connect(h.ports.pop3, "127.0.0.1");
    await once(socket, "connect");
    const reader = new ResponseReader(socket);
    await reader.line();
    socket.write("USER alice@example.org\r\nPASS alice-pass\r\n");
    await reader.line();
    if (!(await reader.line()).startsWith("+OK")) throw new Error("login failed");
    const statStarted = process.hrtime.bigint();
    socket.write("STAT\r\n");
    const stat = (await reader.line()).split(" ");
    const statSeconds = Number(process.hrtime.bigint() - statStarted) / 1e9;
    const expected = Number(stat[2]);
    if (Number(stat[1]) !== count) throw new Error(`STAT says ${stat[1]} messages, expected ${count}`);
    const commands: string[] = [];
    for (let n = 1; n <= count; n++) commands.push(`RETR ${n}\r\nDELE ${n}\r\n`);
    socket.write(commands.join(""));
    let octets = 0;
    for (let n = 1; n <= count; n++) {
      if (!(await reader.line()).startsWith("+OK")) throw new Error(`RETR ${n} failed`);
      octets += await reader.body();
      if (!(await reader.line()).startsWith("+OK")) throw new Error(`DELE ${n} failed`);
    }
    socket.write("QUIT\r\n");
    const goodbye = await reader.line();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    socket.destroy();
    if (!goodbye.includes(`(${count} messages deleted)`)) throw new Error(`unexpected QUIT answer: ${goodbye}`);
    if (octets !== expected) throw new Error(`received ${octets} octets, STAT said ${expected}`);
    const left = await h.temp.store.listMessages((await h.inbox(h.accounts.alice)).id);
    if (left.length !== 0) throw new Error(`${left.length} messages left after QUIT`);
    return { seconds, statSeconds, octets };
  } finally {
    await h.stop();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const workloads = [
    { label: "1,000 × 5 KB", count: 1000, size: 5 * 1024 },
    { label: "100 × 1 MB", count: 100, size: 1024 * 1024 },
  ];
  console.log(`POP3 download + delete, one pipelined session over loopback, median of ${RUNS} runs (Node ${process.version})`);
  for (const workload of workloads) {
    const runs: RunResult[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await downloadAll(workload.count, workload.size));
    const seconds = median(runs.map((r) => r.seconds));
    const octets = runs[0]!.octets;
    const mbPerSecond = octets / (1024 * 1024) / seconds;
    const stat = median(runs.map((r) => r.statSeconds));
    console.log(`${workload.label.padEnd(14)} ${seconds.toFixed(3)} s  ${mbPerSecond.toFixed(1)} MiB/s  (${(workload.count / seconds).toFixed(0)} msg/s; first STAT ${(stat * 1000).toFixed(0)} ms)`);
  }
}

await main();
