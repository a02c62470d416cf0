// A set of IP networks (config keys in CIDR notation, already validated by config/value-kinds)
// and the question "is this client in one of them". An IPv4 client seen through a dual-stack
// socket arrives as an IPv4-mapped IPv6 address (::ffff:127.0.0.1, RFC 4291 §2.5.5.2); it is
// matched as the IPv4 address it is, so "127.0.0.0/8" covers it either way.
import { BlockList, isIP } from "node:net";

export interface NetworkList {
  /** False for anything that is not an IP address. */
  contains(address: string): boolean;
}

const MAPPED_IPV4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

export function createNetworkList(networks: readonly string[]): NetworkList {
  const list = new BlockList();
  for (const network of networks) {
    const slash = network.indexOf("/");
    const address = slash < 0 ? network : network.slice(0, slash);
    const family = isIP(address);
    if (family === 0) throw new RangeError(`not an IP network: ${network}`);
    const prefix = slash < 0 ? (family === 4 ? 32 : 128) : Number(network.slice(slash + 1));
    list.addSubnet(address, prefix, family === 4 ? "ipv4" : "ipv6");
  }
  return {
    contains(raw) {
      const address = MAPPED_IPV4.exec(raw)?.[1] ?? raw;
      const family = isIP(address);
      if (family === 0) return false;
      return list.check(address, family === 4 ? "ipv4" : "ipv6");
    },
  };
}
