// The PostgreSQL store against the conformance suite's search groups (thousands of messages
// each): contract-suite.ts.
import { runPostgresContract, SEARCH_GROUPS } from "./contract-suite.js";

runPostgresContract(SEARCH_GROUPS);
