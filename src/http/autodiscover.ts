// Outlook Autodiscover. POX (the 2006 schema, MS-OXDSCLI §2.2.3/§2.2.4): Outlook POSTs
//   <Autodiscover><Request><EMailAddress>..</EMailAddress><AcceptableResponseSchema>..
// to /autodiscover/autodiscover.xml or /Autodiscover/Autodiscover.xml (the app is case-insensitive
// about paths, so is this route). Autodiscover v2 (JSON): GET
// /autodiscover/autodiscover.json/v1.0/<address>?Protocol=AutodiscoverV1 answers with the POX URL.
// No XML parser: the one element we need is matched in a body already bounded by http.body_limit,
// so no entity expansion or external entity can be reached.
import type { FastifyInstance } from "fastify";
import { parseEmailAddress, xmlEscape, type ClientServer } from "./client-settings.js";
import type { HttpContext } from "./context.js";

const RESPONSE_SCHEMA = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

export function emailFromPoxRequest(body: string): string | null {
  if (/<!DOCTYPE|<!ENTITY/i.test(body)) return null;
  const match = /<(?:[A-Za-z0-9_]+:)?EMailAddress>\s*([^<]{1,320}?)\s*<\/(?:[A-Za-z0-9_]+:)?EMailAddress>/.exec(body);
  return match ? match[1]! : null;
}

export function renderPoxResponse(address: string, servers: readonly ClientServer[]): string {
  const protocols: string[] = [];
  // Outlook reads one Protocol per Type, the first: implicit TLS comes first (client-settings.ts).
  for (const type of ["imap", "pop3", "smtp"] as const) {
    const server = servers.find((s) => s.service === type);
    if (!server) continue;
    protocols.push(
      "      <Protocol>",
      `        <Type>${type === "pop3" ? "POP3" : type.toUpperCase()}</Type>`,
      `        <Server>${xmlEscape(server.host)}</Server>`,
      `        <Port>${server.port}</Port>`,
      "        <DomainRequired>off</DomainRequired>",
      `        <LoginName>${xmlEscape(address)}</LoginName>`,
      "        <SPA>off</SPA>",
      `        <SSL>on</SSL>`,
      `        <Encryption>${server.socket === "SSL" ? "SSL" : "TLS"}</Encryption>`,
      "        <AuthRequired>on</AuthRequired>",
      ...(type === "smtp" ? ["        <UsePOPAuth>on</UsePOPAuth>", "        <SMTPLast>off</SMTPLast>"] : []),
      "      </Protocol>",
    );
  }
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">',
    `  <Response xmlns="${RESPONSE_SCHEMA}">`,
    "    <Account>",
    "      <AccountType>email</AccountType>",
    "      <Action>settings</Action>",
    ...protocols,
    "    </Account>",
    "  </Response>",
    "</Autodiscover>",
    "",
  ].join("\n");
}

function poxError(code: number, message: string): string {
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">',
    "  <Response>",
    `    <Error Time="${new Date().toISOString().slice(11, 19)}" Id="0">`,
    `      <ErrorCode>${code}</ErrorCode>`,
    `      <Message>${xmlEscape(message)}</Message>`,
    "      <DebugData />",
    "    </Error>",
    "  </Response>",
    "</Autodiscover>",
    "",
  ].join("\n");
}

export function registerAutodiscover(app: FastifyInstance, context: HttpContext): void {
  // Outlook sends text/xml; some builds send application/xml or nothing useful.
  app.addContentTypeParser(["text/xml", "application/xml"], { parseAs: "string" }, (_request, body, done) => done(null, body));
  app.post("/autodiscover/autodiscover.xml", async (request, reply) => {
    const body = typeof request.body === "string" ? request.body : Buffer.isBuffer(request.body) ? request.body.toString("utf8") : "";
    const raw = emailFromPoxRequest(body);
    const parsed = raw === null ? null : parseEmailAddress(raw);
    reply.type("application/xml; charset=utf-8");
    if (!parsed) return reply.code(400).send(poxError(600, "Invalid Request: no EMailAddress"));
    if (!(await context.isLocalDomain(parsed.domain))) return reply.code(404).send(poxError(500, "Unknown e-mail domain"));
    return reply.send(renderPoxResponse(parsed.address, context.servers()));
  });
  // Outlook also probes with GET first; the answer says to POST.
  app.get("/autodiscover/autodiscover.xml", async (_request, reply) => reply.code(405).header("allow", "POST").type("application/xml; charset=utf-8").send(poxError(600, "Invalid Request: POST the Autodiscover request")));
  app.get("/autodiscover/autodiscover.json/v1.0/:address", async (request, reply) => {
    const { address } = request.params as { address: string };
    const protocol = String((request.query as Record<string, unknown>)["Protocol"] ?? (request.query as Record<string, unknown>)["protocol"] ?? "");
    const parsed = parseEmailAddress(address);
    if (!parsed) return reply.code(400).send({ ErrorCode: "InvalidUser", ErrorMessage: "not an e-mail address" });
    if (protocol.toLowerCase() !== "autodiscoverv1") {
      return reply.code(400).send({ ErrorCode: "InvalidProtocol", ErrorMessage: `The given protocol value '${protocol.slice(0, 64)}' is invalid. Supported values are 'AutodiscoverV1'` });
    }
    if (!(await context.isLocalDomain(parsed.domain))) return reply.code(404).send({ ErrorCode: "InvalidUser", ErrorMessage: "unknown e-mail domain" });
    return reply.send({ Protocol: "AutodiscoverV1", Url: `https://autodiscover.${parsed.domain}/autodiscover/autodiscover.xml` });
  });
}
