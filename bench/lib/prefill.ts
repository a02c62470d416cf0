// Big mailboxes built fast, outside the protocols (issue #13): filling 100,000 or 1,000,000
// messages over SMTP or APPEND takes hours, and the fill is not what is measured.
//  - Mailroom: through its store API (openSqliteStore + deliver, as `mailroom serve` itself does),
//    in the bench process, after the accounts exist and before `mailroom serve` takes the data
//    dir. The fill skips the per-message fsyncs (a FileLayer whose sync is a no-op) and ends with
//    one sync(2): the data on disk is the same, only the untimed fill is faster.
//  - Dovecot: its Maildir written directly, one file per message in cur/ named as Dovecot names
//    them (<secs>.M<usecs>P<pid>.<host>,S=<size>:2,), then indexed by an untimed SELECT.
// Both get the same bytes from the same seeded corpus generator.
import { spawnSync } from "node:child_process";
import { chown, mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { nodeFileLayer, type FileLayer } from "../../src/store/blobs/durable-fs.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { generateCorpus, type CorpusOptions } from "./corpus.js";

export interface PrefillSpec {
  /** Local part of the account whose INBOX is filled. */
  local: string;
  count: number;
  /** The corpus (seed, sizes); `to` and `count` are filled in. */
  corpus: Omit<CorpusOptions, "count" | "to">;
}

/** nodeFileLayer without the fsyncs: for the untimed fill only, followed by one sync(2). */
const fillLayer: FileLayer = {
  ...nodeFileLayer,
  async createExclusive(path) {
    const file = await nodeFileLayer.createExclusive(path);
    return { write: (b, o, l) => file.write(b, o, l), sync: async () => {}, close: () => file.close() };
  },
  fsyncDirectory: async () => {},
};

const WRITERS = 32;

/** Delivers the corpus into the account's INBOX through the store; the server must not be running. */
export async function prefillMailroom(dataDir: string, address: string, spec: PrefillSpec, say: (line: string) => void): Promise<number> {
  const store = await openSqliteStore({ dataDir, groupCommit: true, blobs: { files: fillLayer } });
  try {
    const account = await store.findAccountByAddress(address);
    if (!account) throw new Error(`prefill: no account ${address}`);
    const inbox = await store.getMailbox(account.id, "INBOX");
    if (!inbox) throw new Error(`prefill: ${address} has no INBOX`);
    const messages = generateCorpus({ ...spec.corpus, count: spec.count, to: address });
    let done = 0;
    let bytes = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        for (;;) {
          const next = messages.next();
          if (next.done) return;
          bytes += next.value.length;
          await store.deliver({ source: next.value, targets: [{ mailboxId: inbox.id }] });
          if (++done % 50_000 === 0) say(`    Mailroom store: ${done}/${spec.count} (${Math.round((Date.now() - started) / 1000)} s)`);
        }
      }),
    );
    spawnSync("sync");
    say(`    Mailroom store: ${done} messages in ${Math.round((Date.now() - started) / 1000)} s`);
    return bytes;
  } finally {
    await store.close();
  }
}

/** Writes the corpus as Maildir files of `maildir` (created), owned by uid:gid. */
export async function prefillMaildir(maildir: string, address: string, spec: PrefillSpec, owner: { uid: number; gid: number } | null): Promise<number> {
  // The home above the Maildir too: Dovecot's mail processes own it.
  await mkdir(dirname(maildir), { recursive: true });
  if (owner) await chown(dirname(maildir), owner.uid, owner.gid);
  for (const sub of ["", "cur", "new", "tmp"]) {
    await mkdir(join(maildir, sub), { recursive: true });
    if (owner) await chown(join(maildir, sub), owner.uid, owner.gid);
  }
  const secs = Math.floor(Date.UTC(2024, 0, 1) / 1000);
  let index = 0;
  let bytes = 0;
  const inFlight = new Set<Promise<void>>();
  for (const message of generateCorpus({ ...spec.corpus, count: spec.count, to: address })) {
    // Unique per file: seconds advance once per million, the microsecond field counts.
    const i = index++;
    bytes += message.length;
    const name = `${secs + Math.floor(i / 1_000_000)}.M${i % 1_000_000}P${process.pid}.bench,S=${message.length}:2,`;
    const path = join(maildir, "cur", name);
    const write = (async () => {
      await writeFile(path, message);
      if (owner) await chown(path, owner.uid, owner.gid);
    })();
    const tracked: Promise<void> = write.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    if (inFlight.size >= 64) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  spawnSync("sync");
  return bytes;
}
