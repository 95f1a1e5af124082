#!/usr/bin/env -S deno run --allow-net --allow-read --allow-write --allow-env
/**
 * The `rad69` command: downloads DICOM instances from an IHE RAD-69 Imaging
 * Document Source (a PACS or VNA) to `OUT/<study>/<series>/<instance>.dcm`,
 * never leaving a half-written file under a final name.
 *
 * ```sh
 * deno run -N -R -W -E jsr:@rad69/client/cli --help
 * deno run -N -R -W -E jsr:@rad69/client/cli --url https://pacs/xdsi/ImagingDocumentSource \
 *   --out ./dicom --instances list.csv --resume
 * # install it as a command
 * deno install -g -N -R -W -E -n rad69 jsr:@rad69/client/cli
 * # from a checkout (the import map of deno.json is needed): deno task install, i.e.
 * deno install -g -f --config deno.json -N -R -W -E -n rad69 ./cli.ts
 * ```
 *
 * Secrets go in environment variables, never on the command line:
 * `RAD69_AUTH="Bearer …" rad69 --header-env Authorization=RAD69_AUTH …`.
 * Exit status: 0 every instance delivered (or skipped with `--resume`, or
 * failed with an `--ignore`d error); 1 some were not delivered (each is listed
 * with its reason); 2 usage or input error (nothing was requested); 130
 * interrupted.
 *
 * @example Run the command from a script
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "@rad69/client/cli";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const [instance] = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * const { studyUid, seriesUid, instanceUid } = instance!;
 * await using server = await FakeRad69Server.start({ instances: [instance!] });
 * const out = await Deno.makeTempDir();
 * try {
 *   const status = await main([
 *     "--url",
 *     server.url,
 *     "--out",
 *     out,
 *     "--no-progress",
 *     `${studyUid}/${seriesUid}/${instanceUid}`,
 *   ]);
 *   assert.equal(status, 0);
 *   const file = `${out}/${studyUid}/${seriesUid}/${instanceUid}.dcm`;
 *   assert.deepEqual(await Deno.readFile(file), instance!.bytes);
 * } finally {
 *   await Deno.remove(out, { recursive: true });
 * }
 * ```
 *
 * @module
 */

import denoConfig from "./deno.json" with { type: "json" };
import { runCli } from "./src/cli/main.ts";

/**
 * The version of the package (and of the command).
 *
 * @example Print the version
 * ```ts
 * import assert from "node:assert/strict";
 * import { VERSION } from "@rad69/client/cli";
 *
 * assert.match(VERSION, /^\d+\.\d+\.\d+/);
 * ```
 */
export const VERSION: string = denoConfig.version;

/**
 * Runs the `rad69` command with the given arguments. SIGINT and SIGTERM stop
 * the download cleanly (temporary files removed, status 130).
 *
 * @param args The arguments, without the program name.
 * @returns The exit status: 0 all delivered, 1 some not delivered, 2 usage
 * or input error, 130 interrupted.
 *
 * @example Exit statuses of `--version` and of a usage error
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "@rad69/client/cli";
 *
 * assert.equal(await main(["--version"]), 0); // prints "rad69 (@rad69/client) …"
 * const usageError = await main(["--url", "http://127.0.0.1:8080/rad69"]);
 * assert.equal(usageError, 2); // no instance given: nothing is requested
 * ```
 */
export function main(args: readonly string[] = Deno.args): Promise<number> {
  return runCli(args, { version: VERSION, handleSignals: true });
}

if (import.meta.main) {
  Deno.exit(await main());
}
