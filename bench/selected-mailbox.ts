// A big selected mailbox over real IMAP sockets (issue 13): fills one INBOX with N messages through
// the store API (not SMTP: DISTINCT different messages staged once, then MailStore.appendStaged in
// batches of BATCH, one transaction each, the bodies cycling through the staged ones),
// then times, 3 runs each, medians printed:
//   SELECT INBOX, FETCH 1:* (FLAGS), UID FETCH <last 50> (FLAGS ENVELOPE), STORE 1:* +FLAGS,
//   FETCH 1:100 BODY[], FETCH 1:* (ENVELOPE), FETCH 1:* (ENVELOPE BODYSTRUCTURE),
//   UID SEARCH SUBJECT, UID SEARCH FROM, UID SEARCH HEADER Message-ID
// and reports the process's peak RSS and the heap + ArrayBuffer growth of two more sessions
// holding the mailbox selected (bytes per selected message; target ≤ 16, docs/architecture.md).
//   npx tsc -p tsconfig.json && node --expose-gc dist/bench/selected-mailbox.js [messages=100000]
import { connect, type Socket } from "node:net";
import { once } from "node:events";
import type { StagedMessage } from "../src/store/index.js";
import { startImapHarness } from "../test/harness/imap-harness.js";

const RUNS = 3;
const DISTINCT = 1000;
const BATCH = 5000;

function message(serial: number): Buffer {
  const n = serial % DISTINCT;
  return Buffer.from(
    `From: Sender ${n} <sender${n}@example.net>\r\nTo: alice@example.org\r\nSubject: bench message ${n}\r\n` +
      `Date: Mon, 1 Dec 2025 10:00:00 +0000\r\nMessage-ID: <${n}.bench@example.net>\r\n\r\n` +
      `Body of message ${n}.\r\n`.repeat(20),
  );
}

/** A minimal client: one command at a time, completion found by looking at the newest bytes only. */
class Client {
  private chunks: Buffer[] = [];
  private tail = "";
  private waiter: (() => void) | null = null;
  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.tail = (this.tail + chunk.toString("latin1")).slice(-512);
      this.waiter?.();
    });
  }

  static async open(port: number): Promise<Client> {
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    const client = new Client(socket);
    await client.wait(() => client.tail.includes("\r\n"));
    return client;
  }

  private async wait(done: () => boolean): Promise<void> {
    while (!done()) await new Promise<void>((resolve) => (this.waiter = resolve));
    this.waiter = null;
  }

  /** Sends the command; resolves with the response bytes and the elapsed milliseconds. */
  async run(tag: string, command: string): Promise<{ ms: number; bytes: number; text: string }> {
    this.chunks = [];
    this.tail = "";
    const started = process.hrtime.bigint();
    this.socket.write(`${tag} ${command}\r\n`);
    const done = new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n$`);
    await this.wait(() => done.test(this.tail));
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const all = Buffer.concat(this.chunks);
    const last = this.tail.slice(this.tail.lastIndexOf(`${tag} `));
    if (!last.startsWith(`${tag} OK`)) throw new Error(`${command}: ${last}`);
    return { ms, bytes: all.length, text: all.length < 1_000_000 ? all.toString("latin1") : "" };
  }

  close(): void {
    this.socket.destroy();
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 100_000);
  const harness = await startImapHarness();
  const { store } = harness.temp;
  const inbox = (await store.getMailbox(harness.accounts.alice.id, "INBOX"))!;
  const fillStarted = Date.now();
  const staged: StagedMessage[] = [];
  for (let i = 0; i < Math.min(DISTINCT, total); i++) staged.push(await store.stageMessage(message(i)));
  for (let done = 0; done < total; done += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, total - done) }, (_, i) => ({ source: staged[(done + i) % staged.length]! }));
    await store.appendStaged(inbox.id, batch);
  }
  console.log(`filled ${total} messages in ${((Date.now() - fillStarted) / 1000).toFixed(1)} s`);

  const client = await Client.open(harness.ports.imap);
  await client.run("l", "LOGIN alice@example.org alice-pass");
  const times: Record<string, number[]> = {
    select: [], fetchFlags: [], uidFetchLast50: [], storeFlags: [], fetchBody100: [],
    fetchEnvelope: [], fetchEnvBs: [], searchSubject: [], searchFrom: [], searchHeader: [],
  };
  for (let run = 0; run < RUNS; run++) {
    times.select!.push((await client.run("s", "SELECT INBOX")).ms);
    const flags = await client.run("f", "FETCH 1:* (FLAGS)");
    times.fetchFlags!.push(flags.ms);
    const last = await client.run("u", `UID FETCH ${Math.max(1, total - 49)}:* (FLAGS ENVELOPE)`);
    times.uidFetchLast50!.push(last.ms);
    if ((last.text.match(/^\* \d+ FETCH /gm) ?? []).length !== Math.min(50, total)) throw new Error(`UID FETCH: wrong count: ${last.text.slice(0, 300)}`);
    // Alternating add and remove, so every run changes every message.
    times.storeFlags!.push((await client.run("t", `STORE 1:* ${run % 2 === 0 ? "+" : "-"}FLAGS.SILENT (\\Flagged)`)).ms);
    times.fetchBody100!.push((await client.run("b", "FETCH 1:100 BODY.PEEK[]")).ms);
    times.fetchEnvelope!.push((await client.run("e", "FETCH 1:* (ENVELOPE)")).ms);
    times.fetchEnvBs!.push((await client.run("e", "FETCH 1:* (ENVELOPE BODYSTRUCTURE)")).ms);
    // Matches one message in DISTINCT: the whole mailbox is searched, the answer is small.
    times.searchSubject!.push((await client.run("q", `SEARCH SUBJECT "message 1${run}7"`)).ms);
    times.searchFrom!.push((await client.run("q", `UID SEARCH FROM "sender${run}99@"`)).ms);
    times.searchHeader!.push((await client.run("q", `UID SEARCH HEADER Message-ID "<5${run}.bench@"`)).ms);
  }
  for (const [name, values] of Object.entries(times)) console.log(`${name.padEnd(16)} median ${median(values).toFixed(1)} ms  runs ${values.map((v) => v.toFixed(1)).join(", ")}`);

  // Two more sessions holding the mailbox selected: what they add to the heap and ArrayBuffers.
  gc();
  const before = process.memoryUsage();
  const others = [await Client.open(harness.ports.imap), await Client.open(harness.ports.imap)];
  for (const other of others) {
    await other.run("l", "LOGIN alice@example.org alice-pass");
    await other.run("s", "EXAMINE INBOX");
  }
  gc();
  const after = process.memoryUsage();
  const grown = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
  console.log(`two sessions selected: +${(grown / 1024).toFixed(0)} KiB, ${(grown / (2 * total)).toFixed(2)} bytes per selected message`);
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (server and this client in one process)`);
  for (const other of others) other.close();
  client.close();
  await harness.stop();
}

await main();
