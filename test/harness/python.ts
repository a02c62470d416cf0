// Runs a python3 script (a real client: imaplib, smtplib, poplib) with arguments and returns what
// it printed; a non-zero exit rejects with the script's stderr, so a failed assertion names it.
import { execFile } from "node:child_process";

export function runPython(source: string, args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("python3", ["-c", source, ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)));
  });
}
