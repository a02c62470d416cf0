#!/usr/bin/env node
// The `mailroom` command (also `npx mailroom`): builds on first use, then runs the CLI.
import { runMain } from "../scripts/ensure-built.mjs";
await runMain(process.argv.slice(2));
