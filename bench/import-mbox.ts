// `mailroom import` of a large mbox (issue 21: 1 GB at >= 50 MB/s with bounded memory). Writes a
// seeded mbox of the given size in a temp directory, then imports it into a fresh SQLite store
// `runs` times, each run in its own process so its peak RSS is its own, and prints each run, the
// median and the spread: MB/s of mbox read and peak resident memory. When Debian's Dovecot is
// installed (doveadm), each run is followed by `doveadm import` of the same mbox into a fresh
// Maildir (Dovecot's own mbox reader and Maildir writer, its default fsync policy), and the ratio
// of the medians is printed. Two mixes:
//   - mixed (default): what a mailbox of years looks like by volume: 1-8 KB text messages, one in
//     six an HTML newsletter (multipart/alternative, 5-40 KB), one in six with a base64
//     attachment of 0.1-3 MB (attachments are most of the bytes);
//   - text: 10-60 KB of text per message, one in 50 with a 0.5-2 MB attachment: the worst case
//     for the store, whose trigram full-text index takes every octet of text.
// All carry "From " lines (quoted, mboxrd) and Status fields; the seed is fixed (21).
//   npm run bench:import-mbox -- [--size 1G] [--runs 3] [--mix mixed|text] [--no-peer] [--backend sqlite|postgresql]
// (--size takes megabytes, or a number with M or G.) Results: bench/results/import-mbox.md.
import { spawnSync } from "node:child_process";
import { createWriteStream } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
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
    const html = mix === "mixed" && count % 6 === 4;
    if (attachment) lines.push("MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b1"', "", "--b1", "Content-Type: text/plain", "");
    else if (html) lines.push("MIME-Version: 1.0", 'Content-Type: multipart/alternative; boundary="a1"', "", "--a1", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable", "");
    else lines.push("");
    const textLines = mix === "text" ? 150 + Math.floor(random() * 800) : 15 + Math.floor(random() * 110);
    for (let i = 0; i < textLines; i++) {
      if (i % 97 === 5) lines.push(">From the archive, a line an mbox writer quoted");
      else lines.push(Array.from({ length: 8 }, () => WORDS[Math.floor(random() * WORDS.length)]).join(" "));
    }
    if (html) {
      // The HTML part of a newsletter: tables, styles and links around the same words.
      lines.push("--a1", "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: quoted-printable", "", '<html><head><style>td{font-family:Arial;color:#333333}</style></head><body><table width=3D"600">');
      const rows = 40 + Math.floor(random() * 260);
      for (let i = 0; i < rows; i++) lines.push(`<tr><td class=3D"c${i % 7}"><a href=3D"https://news.example.com/${WORDS[i % WORDS.length]}/${count}">${Array.from({ length: 6 }, () => WORDS[Math.floor(random() * WORDS.length)]).join(" ")}</a></td></tr>`);
      lines.push("</table></body></html>", "--a1--");
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

/**
 * One import in this process: into a fresh SQLite store, or (backend "postgresql") into a fresh
 * database of a PostgreSQL cluster started for the run with fsync on (test/harness/postgres.ts);
 * the cluster's own memory is not in the peak RSS printed.
 */
async function oneRun(path: string, backend: string): Promise<void> {
  const { importMessages } = await import("../src/import/importer.js");
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-bench-import-"));
  let cluster: { createDatabase(prefix?: string): Promise<string>; stop(): Promise<void> } | null = null;
  let store: Awaited<ReturnType<typeof import("../src/store/sqlite/sqlite-store.js").openSqliteStore>> | Awaited<ReturnType<typeof import("../src/store/postgresql/postgresql-store.js").openPostgresStore>>;
  if (backend === "postgresql") {
    const { startPostgres } = await import("../test/harness/postgres.js");
    const { openPostgresStore } = await import("../src/store/postgresql/postgresql-store.js");
    cluster = await startPostgres({ durable: true, prefix: "mailroom-bench-pg-" });
    store = await openPostgresStore({ url: await cluster.createDatabase("bench"), maxConnections: 20 });
  } else {
    const { openSqliteStore } = await import("../src/store/sqlite/sqlite-store.js");
    store = await openSqliteStore({ dataDir });
  }
  try {
    await store.addDomain("example.org");
    const account = await store.createAccount({ address: "user@example.org", passwordHash: "x" });
    const started = process.hrtime.bigint();
    const cpuBefore = process.cpuUsage();
    const report = await importMessages({ store, accountId: account.id, path, maxMessageBytes: 50 * 1024 * 1024 });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpuBefore);
    const fileBytes = (await stat(path)).size;
    const imported = report.folders.reduce((n, f) => n + f.imported, 0);
    console.log(JSON.stringify({ seconds, mbPerSecond: fileBytes / 1024 / 1024 / seconds, messages: imported, problems: report.problemCount, peakRssMb: process.resourceUsage().maxRSS / 1024, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
  } finally {
    await store.close();
    await cluster?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

interface RunResult {
  mbPerSecond: number;
  peakRssMb: number;
  seconds: number;
  messages: number;
  cpuSeconds?: number;
}

/** A size in megabytes: "1024", "512M", "1G". */
function megabytesOf(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([MG]?)$/i.exec(text.trim());
  if (!match) throw new Error(`--size: expected megabytes, or a number with M or G, got "${text}"`);
  return Math.round(Number(match[1]) * (match[2]!.toUpperCase() === "G" ? 1024 : 1));
}

function parseArgs(argv: readonly string[]): { megabytes: number; runs: number; mix: string; peer: boolean; backend: string } {
  const options = { megabytes: 1024, runs: 3, mix: "mixed", peer: true, backend: "sqlite" };
  // The former positional form (megabytes runs mix) still works.
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === "--size") options.megabytes = megabytesOf(argv[++i] ?? "");
    else if (flag === "--runs") options.runs = Number(argv[++i]);
    else if (flag === "--mix") options.mix = argv[++i] ?? "";
    else if (flag === "--no-peer") options.peer = false;
    else if (flag === "--backend") options.backend = argv[++i] ?? "";
    else if (!flag.startsWith("--")) positional.push(flag);
    else throw new Error(`unknown flag ${flag}; usage: import-mbox [--size 1G] [--runs 3] [--mix mixed|text] [--no-peer] [--backend sqlite|postgresql]`);
  }
  if (positional[0] !== undefined) options.megabytes = megabytesOf(positional[0]);
  if (positional[1] !== undefined) options.runs = Number(positional[1]);
  if (positional[2] !== undefined) options.mix = positional[2];
  if (!Number.isInteger(options.runs) || options.runs < 1) throw new Error("--runs: a positive integer");
  if (options.mix !== "mixed" && options.mix !== "text") throw new Error("the mix is mixed or text");
  if (options.backend !== "sqlite" && options.backend !== "postgresql") throw new Error("the backend is sqlite or postgresql");
  return options;
}

/** Dovecot's doveadm, when installed (Debian dovecot-core). */
function hasDoveadm(): boolean {
  return spawnSync("doveadm", ["help"], { encoding: "utf8" }).error === undefined;
}

/**
 * `doveadm import` of the mbox into a fresh Maildir, as an unprivileged user (Dovecot refuses mail
 * access as root), with a config of its own and no running Dovecot: wall time and peak RSS (GNU
 * time) of the whole command, which reads the mbox and writes and fsyncs one file per message.
 */
async function doveadmRun(dir: string, path: string): Promise<RunResult> {
  const root = await mkdtemp(join(dir, "dovecot-"));
  try {
    await chmod(root, 0o755);
    for (const sub of ["run", "state", "home", "mboxroot"]) await mkdir(join(root, sub));
    await writeFile(
      join(root, "dovecot.conf"),
      [`base_dir = ${root}/run`, `state_dir = ${root}/state`, `log_path = ${root}/dovecot.log`, `mail_location = maildir:${root}/home/Maildir`, "mail_uid = 65534", "mail_gid = 65534", ""].join("\n"),
    );
    for (const sub of ["home", "mboxroot"]) await chown(join(root, sub), 65534, 65534);
    const started = process.hrtime.bigint();
    const child = spawnSync(
      "/usr/bin/time",
      ["-f", "peak-rss-kb %M", "doveadm", "-c", join(root, "dovecot.conf"), "import", `mbox:${root}/mboxroot:INBOX=${path}`, "", "all"],
      { encoding: "utf8", env: { ...process.env, USER: "bench", HOME: join(root, "home") }, maxBuffer: 1 << 20 },
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (child.status !== 0) throw new Error(`doveadm import failed: ${child.stderr}`);
    const rss = /peak-rss-kb (\d+)/.exec(child.stderr);
    const count = spawnSync("find", [join(root, "home", "Maildir", "cur"), join(root, "home", "Maildir", "new"), "-type", "f"], { encoding: "utf8", maxBuffer: 64 << 20 });
    const fileBytes = (await stat(path)).size;
    return { seconds, mbPerSecond: fileBytes / 1024 / 1024 / seconds, messages: count.stdout.split("\n").filter((l) => l.length > 0).length, peakRssMb: rss ? Number(rss[1]) / 1024 : NaN };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const spread = (values: number[], digits: number) => `${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)}`;
const load = () => loadavg().map((l) => l.toFixed(1)).join(" ");

async function main(): Promise<void> {
  if (process.argv[2] === "--run") return oneRun(process.argv[3]!, process.argv[4] ?? "sqlite");
  if (process.argv[2] === "--write") return void (await writeMbox(process.argv[3]!, Number(process.argv[4]) * 1024 * 1024, process.argv[5] ?? "mixed"));
  const { megabytes, runs, mix, peer, backend } = parseArgs(process.argv.slice(2));
  const withPeer = peer && hasDoveadm() && process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), "mailroom-bench-mbox-"));
  try {
    await chmod(dir, 0o755);
    const path = join(dir, "big.mbox");
    const count = await writeMbox(path, megabytes * 1024 * 1024, mix);
    await chmod(path, 0o644);
    const size = (await stat(path)).size;
    console.log(`store: ${backend}; mbox (${mix}, seed 21): ${count} messages, ${(size / 1024 / 1024).toFixed(0)} MB; ${withPeer ? "peer: doveadm import into a Maildir" : "no peer (doveadm missing, not root, or --no-peer)"}`);
    const mine: RunResult[] = [];
    const theirs: RunResult[] = [];
    for (let run = 0; run < runs; run++) {
      const before = load();
      const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--run", path, backend], { encoding: "utf8", maxBuffer: 1 << 20 });
      if (child.status !== 0) throw new Error(`run ${run + 1} failed: ${child.stderr}`);
      const result = JSON.parse(child.stdout.trim().split("\n").pop()!) as RunResult;
      mine.push(result);
      console.log(`run ${run + 1} mailroom: ${result.messages} messages in ${result.seconds.toFixed(1)} s, ${result.mbPerSecond.toFixed(1)} MB/s, peak RSS ${result.peakRssMb.toFixed(0)} MB, CPU ${result.cpuSeconds?.toFixed(1)} s (load ${before})`);
      if (withPeer) {
        const peerResult = await doveadmRun(dir, path);
        theirs.push(peerResult);
        console.log(`run ${run + 1} dovecot:  ${peerResult.messages} messages in ${peerResult.seconds.toFixed(1)} s, ${peerResult.mbPerSecond.toFixed(1)} MB/s, peak RSS ${peerResult.peakRssMb.toFixed(0)} MB`);
      }
    }
    const rates = mine.map((r) => r.mbPerSecond);
    console.log(`mailroom median of ${runs}: ${median(rates).toFixed(1)} MB/s (spread ${spread(rates, 1)}), peak RSS ${median(mine.map((r) => r.peakRssMb)).toFixed(0)} MB (spread ${spread(mine.map((r) => r.peakRssMb), 0)})`);
    if (withPeer) {
      const peerRates = theirs.map((r) => r.mbPerSecond);
      console.log(`dovecot median of ${runs}: ${median(peerRates).toFixed(1)} MB/s (spread ${spread(peerRates, 1)}), peak RSS ${median(theirs.map((r) => r.peakRssMb)).toFixed(0)} MB`);
      console.log(`ratio mailroom/dovecot (MB/s, medians): ${(median(rates) / median(peerRates)).toFixed(2)}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
