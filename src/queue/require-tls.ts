// REQUIRETLS (RFC 8689) on the way out, and its opposite, the `TLS-Required: No` header field.
//
// A message whose MAIL FROM carried REQUIRETLS goes only to a next hop that (RFC 8689 §4.2.1)
//   - is named by an authenticated MX lookup: DNSSEC (DANE's lookup sets mxAuthenticated
//     "dnssec") or an MTA-STS policy in mode enforce ("mta-sts"); a smarthost or a static route
//     is named by our own configuration, which needs no lookup;
//   - speaks TLS with a certificate valid for that name: PKIX, or DANE (§4.2.1 item 3 allows
//     either) for a host with usable TLSA records; a DNSSEC-signed MX without them (or with none
//     usable) must show a PKIX-valid certificate for the MX name;
//   - offers REQUIRETLS in its EHLO, and gets it on MAIL FROM to carry the requirement on.
// Otherwise the recipients fail (RFC 8689 §5: a DSN, 5.7.10, or 5.7.30 when no host offers REQUIRETLS).
//
// `TLS-Required: No` (RFC 8689 §3, §4.2.2) asks that recipient-side policies (MTA-STS, DANE) be ignored
// for this message: it then goes with opportunistic TLS like mail to a domain without a policy.
// REQUIRETLS on MAIL FROM wins over the header field. Our own outbound.require_tls still applies:
// that is the operator's policy, not the recipient's.
import type { Readable } from "node:stream";
import type { QueuedMessage } from "../store/index.js";
import type { Destination, DestinationHost, RoutingOptions } from "./destination.js";
import type { SmtpClient } from "./smtp-client.js";
import { PolicyRefusal } from "./tls-outcome.js";

/** The routing for this message: recipient policies off when it says `TLS-Required: No`. */
export function routingFor(entry: QueuedMessage, routing: RoutingOptions, tlsOptional: boolean): RoutingOptions {
  if (entry.requireTls === true || !tlsOptional) return routing;
  return { ...routing, mtaSts: null, recipientPolicies: false };
}

/** Applies REQUIRETLS to a destination: which hosts qualify and how each must be talked to. */
export function requireTlsDestination(entry: QueuedMessage, domain: string, destination: Destination): Destination {
  if (entry.requireTls !== true || destination.kind === "unreachable") return destination;
  const looked = destination.via === "mx" || destination.via === "implicit-mx";
  const hosts = looked ? destination.hosts.filter((host) => host.mxAuthenticated === "dnssec" || host.mxAuthenticated === "mta-sts") : destination.hosts;
  if (hosts.length === 0) {
    const names = destination.hosts.map((host) => host.name).join(", ");
    return { kind: "unreachable", permanent: true, status: "5.7.10", reason: `REQUIRETLS: the MX hosts of ${domain} (${names}) are not authenticated by DNSSEC or an MTA-STS policy in mode enforce (RFC 8689 §4.2.1)` };
  }
  return { ...destination, hosts: hosts.map(requireTlsHost) };
}

function requireTlsHost(host: DestinationHost): DestinationHost {
  // A DANE host (usable TLSA records) is authenticated by them in the session (queue/dane.ts
  // verifyPeer); a DANE-EE certificate need not chain to any CA, so PKIX is not asked of it.
  const byDane = host.dane?.mode === "dane";
  return { ...host, tls: host.tls === "implicit" ? "implicit" : "required", verifyCertificate: byDane ? host.verifyCertificate === true : true, requireTls: true };
}

/** RFC 8689 §4.2.1: a server that does not offer REQUIRETLS cannot be handed the message. */
export function checkRequireTlsOffered(host: DestinationHost, client: SmtpClient): void {
  if (host.requireTls !== true) return;
  if (!client.secure) throw new PolicyRefusal(`REQUIRETLS: no TLS with ${host.name}`, "5.7.10");
  if (!client.extensions.has("REQUIRETLS")) throw new PolicyRefusal(`REQUIRETLS support required: ${host.name} does not offer REQUIRETLS (RFC 8689)`, "5.7.30");
}

/** The header section's size we read at most looking for TLS-Required. */
const HEADER_LIMIT = 64 * 1024;

/**
 * Whether the message's header has `TLS-Required: No` (RFC 8689 §3; the value is
 * case-insensitive, and the field may be folded). Reads the header only.
 */
export async function saysTlsOptional(stream: Readable): Promise<boolean> {
  const parts: Buffer[] = [];
  let size = 0;
  let header = "";
  try {
    for await (const chunk of stream) {
      parts.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      const text = Buffer.concat(parts).toString("latin1");
      const end = text.search(/\r?\n\r?\n/);
      if (end >= 0) {
        header = text.slice(0, end);
        break;
      }
      if (size > HEADER_LIMIT) {
        header = text.slice(0, HEADER_LIMIT);
        break;
      }
      header = text;
    }
  } finally {
    stream.destroy();
  }
  const unfolded = header.replace(/\r?\n[ \t]+/g, " ");
  return unfolded.split(/\r?\n/).some((line) => /^TLS-Required[ \t]*:[ \t]*No[ \t]*$/i.test(line));
}
