// Ad-hoc timing of SORT and THREAD over python3 imaplib against an in-process server with N
// delivered messages (default 20000): `npx tsc -p tsconfig.json && N=10000 node scripts/sort-thread-timing.mjs`.
// Figures, not assertions (the machine is shared): see docs/rfc-coverage.md, RFC 5256.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { startImapHarness } from "../dist/test/harness/imap-harness.js";
const N = Number(process.env.N ?? 20000);
const h = await startImapHarness();
const store = h.temp.store;
const inbox = await store.getMailbox(h.accounts.alice.id, "INBOX");
let t = Date.now();
for (let i = 0; i < N; i++) {
  const subj = ["Re: ", "", "Fwd: ", "[list] "][i % 4] + "topic " + (i * 7919 % 1000);
  const src = `Subject: ${subj}\r\nFrom: User ${i % 97} <u${i % 97}@example.org>\r\nTo: t${i % 13}@example.org\r\nCc: c${i % 7}@example.org\r\nDate: ${1 + (i % 28)} Feb 2025 10:${String(i % 60).padStart(2, "0")}:00 +0000\r\nMessage-ID: <m${i}@x>\r\n${i > 0 ? `In-Reply-To: <m${Math.floor(i / 2)}@x>\r\n` : ""}\r\nbody ${i}\r\n`;
  await store.deliver({ source: Buffer.from(src), internalDate: new Date(Date.UTC(2025, 0, 1) + i * 1000), targets: [{ mailboxId: inbox.id, flags: [] }] });
}
console.log(`delivered ${N} in ${Date.now() - t} ms`);
const py = String.raw`
import imaplib, sys, time
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); M.login("alice@example.org", "alice-pass"); M.select("INBOX")
for args in [("SORT", "(ARRIVAL)"), ("SORT", "(SUBJECT)"), ("SORT", "(REVERSE DATE FROM)"), ("SORT", "(DISPLAYFROM TO CC SIZE SUBJECT)"), ("THREAD", "REFERENCES"), ("THREAD", "ORDEREDSUBJECT")]:
    t = time.time(); typ, data = M._simple_command(args[0], args[1], "UTF-8", "ALL"); n = len(M.untagged_responses.pop(args[0], [b""])[0].split()); print(args, typ, n, "%.2fs" % (time.time() - t))
M.logout()`;
console.log((await promisify(execFile)("python3", ["-c", py, String(h.ports.imap)], { encoding: "utf8", maxBuffer: 1e9 })).stdout);
await h.stop();
