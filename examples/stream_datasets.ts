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

import {
  Rad69Client,
  readInstanceList,
  XDSMissingDocumentError,
} from "@rad69/client";
import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";

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
    : await readInstanceList(args[1]!);
  const client = new Rad69Client({
    url,
    errorsToIgnore: [XDSMissingDocumentError],
  });
  for await (const instance of client.datasets(refs)) {
    // Keywords of the DICOM dictionary, as in pydicom; the hex tags work
    // too: instance.dataset.string("x00100010").
    console.log(
      [
        instance.ref.instanceUid,
        instance.get("PatientName") ?? "",
        instance.get("Modality") ?? "",
        `${instance.get("Rows")}x${instance.get("Columns")}`,
        `${instance.bytes.length} bytes`,
      ].join("  "),
    );
  }
}

if (import.meta.main) await main(Deno.args);
