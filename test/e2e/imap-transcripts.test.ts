// Plays every test/transcripts/imap-*.transcript against a fresh in-process IMAP server with a
// real store: exact bytes for literals, continuations, BAD/NO codes and untagged responses.
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { runTranscript } from "../harness/transcript.js";

async function transcriptDirectory(): Promise<string> {
  // Runs from test/e2e (tsx) or dist/test/e2e (npm test); the .transcript files stay in test/.
  for (const candidate of [fileURLToPath(new URL("../transcripts/", import.meta.url)), fileURLToPath(new URL("../../../test/transcripts/", import.meta.url))]) {
    try {
      await readdir(candidate);
      return candidate;
    } catch {
      // try the next
    }
  }
  throw new Error("test/transcripts not found");
}

describe("IMAP transcripts", async () => {
  const dir = await transcriptDirectory();
  const files = (await readdir(dir)).filter((f) => f.startsWith("imap-") && f.endsWith(".transcript")).sort();
  // An empty or misplaced folder must not pass as "all transcripts matched".
  it("finds the transcript files", () => assert.ok(files.length > 0, `no imap-*.transcript files in ${dir}`));
  for (const file of files) {
    describe(file, () => {
      let harness: ImapHarness;
      before(async () => {
        harness = await startImapHarness();
      });
      after(async () => harness.stop());
      it("matches", async () => runTranscript(harness.ports.imap, await readFile(`${dir}${file}`, "utf8")));
    });
  }
});
