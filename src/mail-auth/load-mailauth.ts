// mailauth, imported on first use. With its dependencies (joi, undici, tldts, fast-xml-parser,
// nodemailer's parser, the BIMI/VMC X.509 code) it adds ~33 MiB to a process: an idle server
// that has not yet received or signed a message does not need it (idle RSS, issue #13).
type Mailauth = typeof import("mailauth");

let loading: Promise<Mailauth> | null = null;

export function loadMailauth(): Promise<Mailauth> {
  loading ??= import("mailauth").catch((error: unknown) => {
    // A failed import is retried on the next use rather than remembered.
    loading = null;
    throw error;
  });
  return loading;
}
