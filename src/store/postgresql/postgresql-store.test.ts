// The PostgreSQL store against the conformance suite, all groups but the search ones
// (postgresql-search.test.ts): contract-suite.ts.
import { CONTRACT_GROUPS } from "../contract/store-contract.js";
import { runPostgresContract, SEARCH_GROUPS } from "./contract-suite.js";

runPostgresContract(CONTRACT_GROUPS.filter((group) => !SEARCH_GROUPS.includes(group)));
