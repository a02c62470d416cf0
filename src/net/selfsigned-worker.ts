// Worker thread of tls-context.ts: generates one self-signed certificate with `selfsigned`.
// That package and its X.509 stack (@peculiar/x509, asn1 schemas, tsyringe) take ~13 MiB once
// loaded, and a server needs them only on its first start or a renewal; loaded in a worker, they
// leave with the worker's heap instead of staying in the serving process (idle RSS, issue #13).
import { parentPort, workerData } from "node:worker_threads";
import { generate } from "selfsigned";

type GenerateArgs = Parameters<typeof generate>;
const { attributes, options } = workerData as { attributes: GenerateArgs[0]; options: GenerateArgs[1] };
try {
  const pems = await generate(attributes, options);
  parentPort!.postMessage({ ok: true, cert: pems.cert, private: pems.private });
} catch (error) {
  parentPort!.postMessage({ ok: false, message: (error as Error).message });
}
