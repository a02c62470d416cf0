// RFC 5256 §2.1 base subject extraction, the key of SORT SUBJECT and of the THREAD algorithms'
// subject grouping. The steps are followed literally; positions move over the string instead of
// slicing it per step, so a hostile Subject ("Re: " ten thousand times, a wall of "[x]" blobs)
// costs linear work, not quadratic copies.
import { decodeEncodedWords } from "../../mail/header-fields.js";

export interface BaseSubject {
  /** The base subject, in the comparator's form: i;ascii-casemap (RFC 4790 §9.2) upper-cases a-z. */
  key: string;
  /**
   * Whether extraction removed a reply/forward marker (subj-refwd, "(fwd)" or "[fwd: ...]"):
   * RFC 5256 §3 REFERENCES step (5) groups by subject and needs to know it.
   */
  isReplyOrForward: boolean;
}

// RFC 5256 §5: BLOBCHAR = %x01-5a / %x5c / %x5e-7f (anything ASCII but "[" and "]").
const BLOB = "\\[[\\x01-\\x5a\\x5c\\x5e-\\x7f]*\\] *";
/** subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":". */
const REFWD_AT = new RegExp(`(?:re|fwd?) *(?:${BLOB})?:`, "iy");
const BLOB_AT = new RegExp(BLOB, "y");
const FWD_HDR = /\[fwd:/iy;

/** RFC 5256 §2.1 steps (1) to (7) over a raw (undecoded) Subject value; null or absent is "". */
export function baseSubject(raw: string | null | undefined): BaseSubject {
  // (1) Decode RFC 2047 encoded-words; tabs and line breaks (continuations) become spaces; runs of
  // spaces become one.
  const value = raw ?? "";
  const text = (value.includes("=?") ? decodeEncodedWords(value) : value).replace(/[\t\r\n ]+/g, " ");
  let start = 0;
  let end = text.length;
  let marked = false;
  for (;;) {
    // (2) Remove trailing subj-trailer = "(fwd)" / WSP, repeatedly.
    for (;;) {
      if (end > start && text.charCodeAt(end - 1) === 0x20) end--;
      else if (end - start >= 5 && text.slice(end - 5, end).toLowerCase() === "(fwd)") {
        end -= 5;
        marked = true;
      } else break;
    }
    // (3)-(5) Remove subj-leader (blobs then Re/Fw/Fwd, or one WSP) and a subj-blob when
    // something would remain, until neither matches. A subj-refwd starts with a letter, so after
    // leading blobs it can only begin where the whole run of blobs ends: the run is scanned once
    // and then either the leader goes, or its blobs go one by one (step 4), which is the same as
    // jumping past them, keeping the last when nothing would follow it.
    for (;;) {
      if (start < end && text.charCodeAt(start) === 0x20) {
        start++;
        continue;
      }
      let runEnd = start;
      let lastBlob = start;
      for (;;) {
        BLOB_AT.lastIndex = runEnd;
        if (!BLOB_AT.test(text) || BLOB_AT.lastIndex > end) break;
        lastBlob = runEnd;
        runEnd = BLOB_AT.lastIndex;
      }
      REFWD_AT.lastIndex = runEnd;
      if (REFWD_AT.test(text) && REFWD_AT.lastIndex <= end) {
        start = REFWD_AT.lastIndex;
        marked = true;
        continue;
      }
      if (runEnd === start) break;
      if (runEnd < end) {
        start = runEnd;
        continue;
      }
      // The run reaches the end: every blob but the last may go (step 4 needs a non-empty rest).
      if (lastBlob === start) break;
      start = lastBlob;
    }
    // (6) "[fwd:" ... "]" around the whole remainder: unwrap and go back to (2).
    FWD_HDR.lastIndex = start;
    if (end - start >= 6 && FWD_HDR.test(text) && text.charCodeAt(end - 1) === 0x5d) {
      start += 5;
      end -= 1;
      marked = true;
      continue;
    }
    break;
  }
  return { key: asciiCasemap(text.slice(start, end)), isReplyOrForward: marked };
}

/** i;ascii-casemap (RFC 4790 §9.2): a-z compare as A-Z, everything else by its code. */
export function asciiCasemap(value: string): string {
  return value.replace(/[a-z]+/g, (s) => s.toUpperCase());
}
