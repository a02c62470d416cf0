// Channel-binding data of a TLS link for SCRAM -PLUS (RFC 5802 §6):
// - tls-exporter (RFC 9266): 32 bytes of keying material exported with the label
//   "EXPORTER-Channel-Binding" and an empty context. RFC 9266 §3 allows it on TLS 1.2 only with
//   the extended master secret, which Node cannot tell us, so it is offered on TLS 1.3 only.
// - tls-server-end-point (RFC 5929 §4.1): the hash of the server's own certificate, with the hash
//   of the certificate's signature algorithm, SHA-256 when that is MD5 or SHA-1 (or unknown).
import { createHash } from "node:crypto";
import type { TLSSocket } from "node:tls";
import type { ChannelBindings } from "./scram.js";

/** Signature algorithm OIDs (DER value bytes, hex) whose hash is not SHA-256. */
const SIGNATURE_HASHES: Record<string, "sha384" | "sha512"> = {
  "2a864886f70d01010c": "sha384", // sha384WithRSAEncryption
  "2a864886f70d01010d": "sha512", // sha512WithRSAEncryption
  "2a8648ce3d040303": "sha384", // ecdsa-with-SHA384
  "2a8648ce3d040304": "sha512", // ecdsa-with-SHA512
};

/** Reads one DER TLV at `offset`: its tag, where its value starts, and where it ends. */
function tlv(der: Buffer, offset: number): { tag: number; start: number; end: number } | null {
  if (offset + 2 > der.length) return null;
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > der.length) return null;
    length = 0;
    for (let i = 0; i < count; i += 1) length = length * 256 + der[start + i]!;
    start += count;
  }
  const end = start + length;
  return end > der.length ? null : { tag, start, end };
}

/** The hash RFC 5929 §4.1 names for a DER certificate: from Certificate.signatureAlgorithm. */
export function endPointHash(certificate: Buffer): "sha256" | "sha384" | "sha512" {
  const cert = tlv(certificate, 0);
  if (!cert || cert.tag !== 0x30) return "sha256";
  const tbs = tlv(certificate, cert.start);
  if (!tbs) return "sha256";
  const algorithm = tlv(certificate, tbs.end);
  if (!algorithm || algorithm.tag !== 0x30) return "sha256";
  const oid = tlv(certificate, algorithm.start);
  if (!oid || oid.tag !== 0x06) return "sha256";
  return SIGNATURE_HASHES[certificate.subarray(oid.start, oid.end).toString("hex")] ?? "sha256";
}

/** The binding data this TLS link offers; null for a link without TLS. Never throws. */
export function channelBindingsOf(socket: TLSSocket | null | undefined): ChannelBindings | null {
  if (!socket || typeof socket.exportKeyingMaterial !== "function") return null;
  const bindings: ChannelBindings = {};
  try {
    if (socket.getProtocol() === "TLSv1.3") bindings["tls-exporter"] = socket.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0));
  } catch {
    // No keying material (the handshake is not complete): no tls-exporter.
  }
  try {
    const raw = (socket.getCertificate() as { raw?: Buffer } | null)?.raw;
    if (raw) bindings["tls-server-end-point"] = createHash(endPointHash(raw)).update(raw).digest();
  } catch {
    // No certificate of our own on this socket: no tls-server-end-point.
  }
  return bindings;
}
