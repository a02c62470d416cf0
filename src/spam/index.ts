export { DEFAULT_SCORES, createSpamScanner, iprevResultText, spamHeaderFields } from "./scanner.js";
export type { SpamScanInput, SpamScanner, SpamSettings, SpamTest, SpamVerdict } from "./scanner.js";
export { queryDnsList, reversedAddress } from "./dns-lists.js";
export { checkIprev } from "./iprev.js";
export { bayesTest, spamProbability, tokenize } from "./bayes.js";
export { createSpamTrainer, type SpamTrainer, type TrainingJob } from "./trainer.js";
export { withSpamTraining } from "./training-store.js";
export type { IprevResult } from "./iprev.js";
