// Reads a password for `user add` / `user passwd` without putting it on the command line, where
// it would show in `ps` and shell history: prompted without echo on a terminal, otherwise read
// as the first line of standard input (for scripts: `echo "$PW" | mailroom user add ...`).
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";

export interface PasswordSource {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stderr: Writable;
}

export async function readPassword(source: PasswordSource, prompt: string): Promise<string> {
  if (source.stdin.isTTY && source.stdin.setRawMode) return promptHidden(source, prompt);
  return readFirstLine(source.stdin);
}

async function readFirstLine(stdin: Readable): Promise<string> {
  const lines = createInterface({ input: stdin, crlfDelay: Infinity });
  try {
    for await (const line of lines) return line;
    return "";
  } finally {
    lines.close();
  }
}

function promptHidden(source: PasswordSource, prompt: string): Promise<string> {
  const { stdin, stderr } = source;
  return new Promise((resolve, reject) => {
    let typed = "";
    stderr.write(prompt);
    stdin.setRawMode?.(true);
    stdin.resume();
    const finish = (err?: Error) => {
      stdin.setRawMode?.(false);
      stdin.pause();
      stdin.off("data", onData);
      stderr.write("\n");
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString("utf8")) {
        if (char === "\r" || char === "\n") return finish();
        if (char === "\u0003") return finish(new Error("cancelled"));
        if (char === "\u007f" || char === "\b") typed = [...typed].slice(0, -1).join("");
        else typed += char;
      }
    };
    stdin.on("data", onData);
  });
}
