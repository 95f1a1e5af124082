/**
 * Downloads a list of instances (CSV `study,series,instance` lines) to disk,
 * with a progress line, and prints what was not delivered.
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

import { Rad69Client } from "@rad69/client";
import type { InstanceReference } from "@rad69/client";
import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";

/** Reads `study,series,instance` lines (blank lines and # comments skipped). */
function parseCsv(text: string): InstanceReference[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) =>
    l !== "" && !l.startsWith("#")
  ).map((line) => {
    const [studyUid = "", seriesUid = "", instanceUid = ""] = line.split(",")
      .map((s) => s.trim());
    return { studyUid, seriesUid, instanceUid };
  });
}

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
    : parseCsv(await Deno.readTextFile(args[1]!));
  const dir = args[2] ?? await Deno.makeTempDir({ prefix: "rad69-example-" });

  using client = new Rad69Client({ url, logger: {} });
  let shown = -1;
  const report = await client.download(refs, dir, {
    resume: true,
    onProgress: (p) => {
      if (p.instancesDone === shown) return; // called for bytes, too
      shown = p.instancesDone;
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

if (import.meta.main) Deno.exit((await main(Deno.args)) > 0 ? 1 : 0);
