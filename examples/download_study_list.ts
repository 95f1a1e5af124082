/**
 * Downloads a list of instances (the CLI's `--instances` format: CSV
 * `study,series,instance` lines with an optional header, or a JSON array)
 * to disk, with a progress line per instance, and prints what was not
 * delivered.
 *
 * ```sh
 * deno run --allow-net --allow-read --allow-write examples/download_study_list.ts \
 *   https://pacs/xdsi/ImagingDocumentSource instances.csv ./dicom
 * ```
 *
 * With no arguments it starts the bundled fake server with a synthetic study
 * (one instance of which the server does not have) and downloads it into a
 * temporary folder, so it runs anywhere.
 *
 * @module
 */

import {
  InstanceListError,
  InvalidUidError,
  Rad69Client,
  readInstanceList,
} from "@rad69/client";
import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";

/** Downloads the list; returns the number of instances not delivered. */
export async function main(args: string[]): Promise<number> {
  const study = syntheticStudy({ series: 2, instancesPerSeries: 4 });
  await using server = args.length === 0
    ? await FakeRad69Server.start({ instances: study.slice(1) })
    : undefined;
  const url = server?.url ?? args[0]!;
  const refs = server
    ? study.map(({ studyUid, seriesUid, instanceUid }) => ({
      studyUid,
      seriesUid,
      instanceUid,
    }))
    : await readInstanceList(args[1]!); // errors name the file and line
  const dir = args[2] ?? await Deno.makeTempDir({ prefix: "rad69-example-" });

  using client = new Rad69Client({ url, logger: {} });
  const report = await client.download(refs, dir, {
    resume: true,
    onProgress: (p) => {
      if (!p.entry) return; // byte-count updates: only settled instances
      console.log(
        `${p.instancesDone}/${p.instancesTotal} instances, ${p.bytesWritten} bytes`,
      );
    },
  });
  console.log(
    `${report.delivered} delivered, ${report.skipped} skipped, ${report.failed} failed, into ${dir}`,
  );
  for (const entry of report.entries) {
    if (entry.status === "failed") {
      console.log(`not delivered: ${entry.ref.instanceUid}: ${entry.reason}`);
    }
  }
  if (args.length === 0) await Deno.remove(dir, { recursive: true });
  return report.failed;
}

if (import.meta.main) {
  try {
    Deno.exit((await main(Deno.args)) > 0 ? 1 : 0);
  } catch (error) {
    // A malformed list: the message names the file and the line.
    if (
      !(error instanceof InstanceListError || error instanceof InvalidUidError)
    ) {
      throw error;
    }
    console.error(error.message);
    Deno.exit(2);
  }
}
