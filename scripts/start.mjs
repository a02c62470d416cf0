// `npm start`: build if needed, then run the server on the embedded default (or the configured file).
// The README's first command must work on a fresh machine as a normal user, where ports below 1024
// are refused: so `npm start`, and only it, opts into moving refused ports up by 10000. The banner
// then says loudly which ports moved. `mailroom serve` never moves a port unless configured to.
import { runMain } from "./ensure-built.mjs";
process.env.MAILROOM_PORT_FALLBACK_OFFSET ??= "10000";
await runMain(["serve", ...process.argv.slice(2)]);
