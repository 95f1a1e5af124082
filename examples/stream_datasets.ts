/**
 * Streams the datasets of a study and prints a few tags of each instance.
 *
 * ```sh
 * deno run --allow-net examples/stream_datasets.ts https://pacs/xdsi/ImagingDocumentSource instances.csv
 * ```
 *
 * With no arguments it starts the bundled fake server with a synthetic study
 * and reads from it, so it runs anywhere.
 *
 * @module
 */

import { Rad69Client, XDSMissingDocumentError } from "@rad69/client";
import type { InstanceReference } from "@rad69/client";
import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";

/** Reads `study,series,instance` lines. */
async function readCsv(path: string): Promise<InstanceReference[]> {
  const text = await Deno.readTextFile(path);
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) =>
    l !== "" && !l.startsWith("#")
  ).map((line) => {
    const [studyUid = "", seriesUid = "", instanceUid = ""] = line.split(",")
      .map((s) => s.trim());
    return { studyUid, seriesUid, instanceUid };
  });
}

/** Prints patient, modality and size of every instance. */
async function main(args: string[]): Promise<void> {
  await using server = args.length === 0
    ? await FakeRad69Server.start({
      instances: syntheticStudy({ series: 2, instancesPerSeries: 3 }),
    })
    : undefined;
  const url = server?.url ?? args[0]!;
  const refs = server
    ? syntheticStudy({ series: 2, instancesPerSeries: 3 }).map((
      { studyUid, seriesUid, instanceUid },
    ) => ({ studyUid, seriesUid, instanceUid }))
    : await readCsv(args[1]!);
  const client = new Rad69Client({
    url,
    errorsToIgnore: [XDSMissingDocumentError],
  });
  for await (const instance of client.datasets(refs)) {
    const ds = instance.dataset;
    console.log(
      [
        instance.ref.instanceUid,
        ds.string("x00100010") ?? "",
        ds.string("x00080060") ?? "",
        `${ds.uint16("x00280010")}x${ds.uint16("x00280011")}`,
        `${instance.bytes.length} bytes`,
      ].join("  "),
    );
  }
}

if (import.meta.main) await main(Deno.args);
