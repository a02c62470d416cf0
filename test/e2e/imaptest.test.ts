// Dovecot's imaptest against a fresh in-process IMAP server (cleartext LOGIN allowed on loopback,
// as imaptest logs in so): its scripted compliance tests must all pass, and a short stress run
// (10 clients, 12 s of random commands from several sessions on one mailbox, checked against
// imaptest's model of the protocol state) must report no error. A longer stress run is opt-in:
// IMAPTEST_STRESS_SECONDS and IMAPTEST_STRESS_CLIENTS in the environment.
//
// imaptest is a test tool kept outside the repository (`../shared/tools/imaptest`, see its
// README.md); it needs Debian's dovecot-core and libunwind8 at run time, which .ci/run installs.
// Where the tool or its libraries are missing the suite is skipped with a message naming what is
// missing, except under CI=true, where that is a failure: CI must run it.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { findRepositoryRoot } from "../harness/fixtures.js";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";

const STRESS_CLIENTS = Number(process.env.IMAPTEST_STRESS_CLIENTS ?? 10);
/** Short in the suite; IMAPTEST_STRESS_SECONDS=300 (and more clients) is the opt-in long run. */
const STRESS_SECONDS = Number(process.env.IMAPTEST_STRESS_SECONDS ?? 12);

/** Where imaptest is looked for: $IMAPTEST_DIR, then ../shared/tools/imaptest from the repository root, then /work/shared/tools/imaptest. */
function candidateDirs(): string[] {
  const fromRoot = resolve(findRepositoryRoot(import.meta.url), "..", "shared", "tools", "imaptest");
  return [...(process.env.IMAPTEST_DIR ? [process.env.IMAPTEST_DIR] : []), fromRoot, "/work/shared/tools/imaptest"];
}

/** The imaptest directory (binary and tests/), or the reason it cannot be used here. */
function locateImaptest(): { dir: string } | { missing: string } {
  const dirs = candidateDirs();
  const dir = dirs.find((d) => existsSync(join(d, "imaptest")) && existsSync(join(d, "tests")));
  if (dir === undefined) return { missing: `imaptest (binary and tests/) not found in ${dirs.join(", ")}` };
  // The binary links Dovecot's library; without dovecot-core the loader refuses it.
  const probe = spawnSync(join(dir, "imaptest"), ["--help"], { encoding: "utf8", timeout: 10_000 });
  const loaderError = /error while loading shared libraries: ([^:\s]+)/.exec(`${probe.stderr}${probe.stdout}`);
  if (loaderError !== null) return { missing: `${join(dir, "imaptest")} cannot run: ${loaderError[1]} is missing (apt-get install dovecot-core libunwind8)` };
  if (probe.error !== undefined) return { missing: `${join(dir, "imaptest")} cannot run: ${probe.error.message}` };
  return { dir };
}

function runImaptest(dir: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(join(dir, "imaptest"), args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString("latin1")));
    child.stderr.on("data", (c: Buffer) => (output += c.toString("latin1")));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", () => {
      clearTimeout(timer);
      resolveRun(output);
    });
  });
}

/** The lines imaptest prints for a failed scripted command or a protocol error, for the assertion message. */
const failureLines = (output: string): string =>
  output
    .split("\n")
    .filter((line) => /^(\*\*\* Test|Error:| - failed)/.test(line))
    .slice(0, 40)
    .map((line) => (line.length > 300 ? `${line.slice(0, 300)}...` : line))
    .join("\n");

const located = locateImaptest();
const skip = "missing" in located && process.env.CI !== "true" ? `imaptest unavailable: ${located.missing}` : false;

describe("Dovecot imaptest", { skip, timeout: 180_000 + STRESS_SECONDS * 1000 }, () => {
  let harness: ImapHarness;
  let dir: string;
  before(async () => {
    if ("missing" in located) throw new Error(`CI=true but ${located.missing}`);
    dir = located.dir;
    // The production default line length (limits.imap_line_length, 64K): the `id` test sends ~30 KB.
    harness = await startImapHarness({ limits: { imapLineLength: 64 * 1024 } });
  });
  after(async () => harness?.stop());

  const account = (name: "alice" | "bob") => [`host=127.0.0.1`, `port=${harness.ports.imap}`, `user=${name}@example.org`, `pass=${name}-pass`];

  it("passes every scripted compliance test (test groups of extensions not advertised do not run)", async (t) => {
    const output = await runImaptest(dir, [...account("alice"), `test=${join(dir, "tests")}`], 150_000);
    const summary = /^(\d+) test groups: (\d+) failed, (\d+) skipped/m.exec(output);
    assert.ok(summary !== null, `imaptest printed no summary:\n${output.slice(-2000)}`);
    t.diagnostic(summary[0]);
    const commands = [...output.matchAll(/^(base protocol|extensions): (\d+)\/(\d+) individual commands failed/gm)];
    assert.ok(Number(summary[1]) > 50, `only ${summary[1]} test groups ran`);
    assert.ok(commands.reduce((n, m) => n + Number(m[3]), 0) > 400, `too few commands ran:\n${commands.map((m) => m[0]).join("\n")}`);
    assert.equal(Number(summary[2]), 0, `${summary[0]}\n${failureLines(output)}`);
    assert.deepEqual(commands.map((m) => Number(m[2])), [0, 0], commands.map((m) => m[0]).join("\n"));
  });

  it(`stress: ${STRESS_CLIENTS} clients for ${STRESS_SECONDS} s report no protocol error`, async (t) => {
    const output = await runImaptest(dir, [...account("bob"), `mbox=${join(dir, "tests", "default.mbox")}`, `clients=${STRESS_CLIENTS}`, `secs=${STRESS_SECONDS}`], (STRESS_SECONDS + 60) * 1000);
    // The totals: a header of command names, a percentage line or two, then the counts.
    const totals = /^Totals:\n[^\n]+\n(?:[^\n]*%[^\n]*\n)+\s*([\d ]+)$/m.exec(output);
    assert.ok(totals !== null, `imaptest printed no totals:\n${output.slice(-2000)}`);
    const commands = totals[1]!.trim().split(/\s+/).reduce((n, count) => n + Number(count), 0);
    assert.ok(commands > 100, `only ${commands} commands ran in ${STRESS_SECONDS} s`);
    t.diagnostic(`stress: ${commands} commands in ${STRESS_SECONDS} s`);
    assert.equal(output.split("\n").filter((line) => line.startsWith("Error:")).length, 0, failureLines(output));
  });
});
