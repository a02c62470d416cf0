// `npm start`: build if needed, then run the server on the embedded default (or the configured file).
import { runMain } from "./ensure-built.mjs";
await runMain(["serve", ...process.argv.slice(2)]);
