// Child process of crash.test.ts: delivers messages in a loop, several at a time, to two
// accounts at once, and prints "ACK <id>" on stdout only after deliver() resolved. The parent
// kills it with SIGKILL at a random moment and checks every acknowledged message survived whole.
//   node crash-child.js <dataDir> <concurrency>
import { Readable } from "node:stream";
import type { DeliveryTarget } from "../mail-store.js";
import { crashMessage } from "./crash-message.js";
import { openSqliteStore } from "./sqlite-store.js";

async function main(): Promise<void> {
  const [dataDir, concurrencyText] = process.argv.slice(2);
  if (!dataDir) throw new Error("usage: crash-child <dataDir> <concurrency>");
  const store = await openSqliteStore({ dataDir });
  const targets: DeliveryTarget[] = [];
  for (const address of ["alice@crash.test", "bob@crash.test"]) {
    const account = await store.findAccountByAddress(address);
    const inbox = account && (await store.getMailbox(account.id, "INBOX"));
    if (!inbox) throw new Error(`crash-child: ${address} has no INBOX (the parent sets it up)`);
    targets.push({ mailboxId: inbox.id, prefix: Buffer.from(`Delivered-To: ${address}\r\n`) });
  }
  let counter = 0;
  const worker = async (): Promise<never> => {
    for (;;) {
      const id = `${process.pid}-${++counter}`;
      const bytes = crashMessage(id, 1000 + Math.floor(Math.random() * 60_000));
      // Chunked, so the blob write spans several event-loop turns and can be cut anywhere.
      const chunks = [];
      for (let i = 0; i < bytes.length; i += 8192) chunks.push(bytes.subarray(i, i + 8192));
      await store.deliver({ source: Readable.from(chunks), targets });
      process.stdout.write(`ACK ${id}\n`);
    }
  };
  process.stdout.write("READY\n");
  await Promise.all(Array.from({ length: Number(concurrencyText ?? 4) }, worker));
}

main().catch((err) => {
  process.stderr.write(`crash-child: ${(err as Error).stack}\n`);
  process.exit(1);
});
