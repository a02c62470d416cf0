// Runs a *.transcript file against a server: `C: text` lines are sent (CRLF added), `S: text`
// lines must be received in order, exactly, except that a `*` at the end of an S: line matches
// the rest of that line. `#` lines and blank lines are comments. `C:` lines may hold \r\n escapes
// (for line ends inside a literal); every C: line is sent with a CRLF after it.
import { RawImapClient } from "./imap-raw-client.js";

export interface TranscriptStep {
  direction: "C" | "S";
  text: string;
  line: number;
}

export function parseTranscript(source: string): TranscriptStep[] {
  const steps: TranscriptStep[] = [];
  source.split("\n").forEach((raw, index) => {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "" || line.startsWith("#")) return;
    const match = /^([CS]): ?(.*)$/.exec(line);
    if (match === null) throw new Error(`transcript line ${index + 1}: expected "C:" or "S:"`);
    steps.push({ direction: match[1] as "C" | "S", text: match[2] as string, line: index + 1 });
  });
  return steps;
}

function matches(expected: string, actual: string): boolean {
  return expected.endsWith("*") ? actual.startsWith(expected.slice(0, -1)) : actual === expected;
}

/** Plays a transcript on a fresh connection (the greeting is consumed first); throws on a mismatch. */
export async function runTranscript(port: number, source: string): Promise<void> {
  const client = await RawImapClient.open(port);
  try {
    client.take();
    for (const step of parseTranscript(source)) {
      if (step.direction === "C") {
        client.send(`${step.text.replaceAll("\\r\\n", "\r\n")}\r\n`);
        continue;
      }
      const actual = await client.nextLine();
      if (!matches(step.text, actual)) throw new Error(`transcript line ${step.line}: expected ${JSON.stringify(step.text)}, got ${JSON.stringify(actual)}`);
    }
  } finally {
    client.close();
  }
}
