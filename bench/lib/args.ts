// Command-line flags of `npm run bench`: --quick, --no-peers, --only <workload[,workload]>,
// --runs N, --seed N, --keep (leave the throw-away directory for inspection). Unknown flags are
// an error, so a typo never silently runs the full hour-long suite.

export interface BenchOptions {
  quick: boolean;
  peers: boolean;
  only: string[] | null;
  runs: number;
  seed: number;
  keep: boolean;
  install: boolean;
}

export const USAGE = `usage: npm run bench -- [--quick] [--no-peers] [--only <workload>[,<workload>...]] [--runs N] [--seed N] [--keep] [--no-install]
  --quick       small sizes, every workload under a minute (what CI runs with --no-peers)
  --no-peers    Mailroom only: no Dovecot/Postfix (no apt-get, no root needed)
  --only        run only these workloads (ids or id prefixes, see the table)
  --runs N      runs per workload and server, alternating servers (default 3)
  --seed N      corpus seed (default 7)
  --keep        keep the throw-away directory (configs, logs, data) after the run
  --no-install  never apt-get the peers; skip them if they are missing`;

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = { quick: false, peers: true, only: null, runs: 3, seed: 7, keep: false, install: true };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${flag} needs a value`);
      return next;
    };
    const count = (min: number, max: number): number => {
      const text = value();
      const n = Number(text);
      if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${flag}: expected an integer from ${min} to ${max}, got "${text}"`);
      return n;
    };
    switch (flag) {
      case "--quick": options.quick = true; break;
      case "--no-peers": options.peers = false; break;
      case "--only": options.only = value().split(",").map((s) => s.trim()).filter((s) => s.length > 0); break;
      case "--runs": options.runs = count(1, 50); break;
      case "--seed": options.seed = count(0, 2 ** 31); break;
      case "--keep": options.keep = true; break;
      case "--no-install": options.install = false; break;
      case "-h": case "--help": throw new Error(USAGE);
      default: throw new Error(`unknown flag ${flag}\n${USAGE}`);
    }
  }
  return options;
}
