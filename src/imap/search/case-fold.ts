// The fold lives in mail/ so the store folds indexed text exactly as SEARCH folds its strings
// (the full-text index holds folded text, see docs/architecture.md "SEARCH through the index").
export { FoldedNeedle, foldCase } from "../../mail/case-fold.js";
