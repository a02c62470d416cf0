// The store conformance suite on SQLite, second half of its groups (sqlite-contract-backend.ts).
import { runSqliteContract } from "./sqlite-contract-backend.js";

runSqliteContract(2);
