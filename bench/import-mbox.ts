// `mailroom import` of a large mbox (issue 21: 1 GB at >= 50 MB/s with bounded memory). Writes a
// seeded mbox of the given size in a temp directory, then imports it into a fresh SQLite store
// `runs` times, each run in its own process so its peak RSS is its own, and prints each run and
// the median: MB/s of mbox read and peak resident memory. Two mixes:
//   - mixed (default): what a mailbox of years looks like by volume: 1-8 KB text messages, one in
//     six with a base64 attachment of 0.1-3 MB (attachments are most of the bytes);
//   - text: 10-60 KB of text per message, one in 50 with a 0.5-2 MB attachment: the worst case
//     for the store, whose trigram full-text index takes every octet of text.
// Both carry "From " lines (quoted, mboxrd) and Status fields.
//   npx tsc -p tsconfig.json && node dist/bench/import-mbox.js [megabytes=1024] [runs=3] [mixed|text]
import { spawnSync } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { once } from "node:events";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const WORDS = "meeting project budget report schedule review update customer invoice contract delivery team quarter planning design release server backup network office".split(" ");

async function writeMbox(path: string, bytes: number, mix: string): Promise<number> {
  const random = rng(21);
  const out = createWriteStream(path, { highWaterMark: 1 << 20 });
  let written = 0;
  let count = 0;
  while (written < bytes) {
    const lines: string[] = [];
    const date = new Date(Date.UTC(2015, 0, 1) + count * 600_000);
    lines.push(`From sender${count % 97}@example.net ${date.toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+) ([\d:]+) GMT$/, (_, d: string, day: string, mon: string, year: string, time: string) => `${d} ${mon} ${day.padStart(2, " ")} ${time} ${year}`)}`);
    lines.push(`From: Sender ${count % 97} <sender${count % 97}@example.net>`, "To: user@example.org", `Subject: message ${count} ${WORDS[count % WORDS.length]}`, `Message-ID: <${count}@bench.example.net>`, `Date: ${date.toUTCString()}`);
    lines.push(`Status: ${count % 3 === 0 ? "RO" : "O"}`);
    const attachment = mix === "text" ? count % 50 === 7 : count % 6 === 1;
    if (attachment) lines.push("MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b1"', "", "--b1", "Content-Type: text/plain", "");
    else lines.push("");
    const textLines = mix === "text" ? 150 + Math.floor(random() * 800) : 15 + Math.floor(random() * 110);
    for (let i = 0; i < textLines; i++) {
      if (i % 97 === 5) lines.push(">From the archive, a line an mbox writer quoted");
      else lines.push(Array.from({ length: 8 }, () => WORDS[Math.floor(random() * WORDS.length)]).join(" "));
    }
    if (attachment) {
      lines.push("--b1", "Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64", "");
      const size = mix === "text" ? 500_000 + Math.floor(random() * 1_500_000) : 100_000 + Math.floor(random() ** 2 * 2_900_000);
      const chunk = Buffer.alloc(57);
      for (let i = 0; i < size / 57; i++) {
        for (let j = 0; j < 57; j++) chunk[j] = Math.floor(random() * 256);
        lines.push(chunk.toString("base64"));
      }
      lines.push("--b1--");
    }
    lines.push("", "");
    const text = lines.join("\n");
    if (!out.write(text)) await once(out, "drain");
    written += Buffer.byteLength(text);
    count++;
  }
  out.end();
  await once(out, "finish");
  return count;
}

async function oneRun(path: string): Promise<void> {
  const { openSqliteStore } = await import("../src/store/sqlite/sqlite-store.js");
  const { importMessages } = await import("../src/import/importer.js");
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-bench-import-"));
  const store = await openSqliteStore({ dataDir });
  try {
    await store.addDomain("example.org");
    const account = await store.createAccount({ address: "user@example.org", passwordHash: "x" });
    const started = process.hrtime.bigint();
    const report = await importMessages({ store, accountId: account.id, path, maxMessageBytes: 50 * 1024 * 1024 });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const fileBytes = (await stat(path)).size;
    const imported = report.folders.reduce((n, f) => n + f.imported, 0);
    console.log(JSON.stringify({ seconds, mbPerSecond: fileBytes / 1024 / 1024 / seconds, messages: imported, problems: report.problemCount, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
  } finally {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === "--run") return oneRun(process.argv[3]!);
  if (process.argv[2] === "--write") return void (await writeMbox(process.argv[3]!, Number(process.argv[4]) * 1024 * 1024, process.argv[5] ?? "mixed"));
  const megabytes = Number(process.argv[2] ?? 1024);
  const runs = Number(process.argv[3] ?? 3);
  const mix = process.argv[4] ?? "mixed";
  if (mix !== "mixed" && mix !== "text") throw new Error("the mix is mixed or text");
  const dir = await mkdtemp(join(tmpdir(), "mailroom-bench-mbox-"));
  try {
    const path = join(dir, "big.mbox");
    const count = await writeMbox(path, megabytes * 1024 * 1024, mix);
    const size = (await stat(path)).size;
    console.log(`mbox (${mix}): ${count} messages, ${(size / 1024 / 1024).toFixed(0)} MB`);
    const results: { mbPerSecond: number; peakRssMb: number; seconds: number; messages: number }[] = [];
    for (let run = 0; run < runs; run++) {
      const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--run", path], { encoding: "utf8", maxBuffer: 1 << 20 });
      if (child.status !== 0) throw new Error(`run ${run + 1} failed: ${child.stderr}`);
      const result = JSON.parse(child.stdout.trim().split("\n").pop()!) as (typeof results)[number];
      results.push(result);
      console.log(`run ${run + 1}: ${result.messages} messages in ${result.seconds.toFixed(1)} s, ${result.mbPerSecond.toFixed(1)} MB/s, peak RSS ${result.peakRssMb.toFixed(0)} MB`);
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    console.log(`median of ${runs}: ${median(results.map((r) => r.mbPerSecond)).toFixed(1)} MB/s, peak RSS ${median(results.map((r) => r.peakRssMb)).toFixed(0)} MB`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
