// The public surface of imap/fetch: rendering FETCH data for one stored message.
export { ATTRIBUTE_KINDS, renderFetchItems, setsSeen, formatInternalDate, isSummaryItem, renderSummaryItem, type FetchSubject, type SummaryItem } from "./render-fetch.js";
export { renderBody, renderBodyStructure, type BodyStructureOptions } from "../protocol/body-structure.js";
export { renderEnvelope } from "../protocol/envelope.js";
export { UnknownCteError, type OpenRange } from "./section.js";
