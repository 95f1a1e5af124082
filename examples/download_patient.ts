/**
 * Downloads every image of a patient from an XDS-I.b affinity domain:
 * ITI-18 (the patient's KOS manifests) → ITI-43 (the manifests) → RAD-69
 * (the images, from each imaging document source), and prints what
 * happened to each manifest and source.
 *
 * ```sh
 * deno run --allow-net --allow-read --allow-write examples/download_patient.ts \
 *   https://xds.example/registry https://xds.example/repository \
 *   https://pacs.example/xdsi/ImagingDocumentSource 'PID123^^^&1.2.3.4&ISO' ./dicom
 * ```
 *
 * With no arguments it starts a small affinity domain on loopback (a fake
 * registry, a fake repository holding two manifests, one of which lists an
 * instance the source does not have, and a fake imaging document source)
 * and downloads into a temporary folder, so it runs anywhere.
 *
 * @module
 */

import { XdsImagingConsumer } from "@rad69/client";
import {
  buildKos,
  type FakeInstance,
  FakeRad69Server,
  FakeXdsRegistry,
  syntheticStudy,
} from "@rad69/client/testing";

const PATIENT = "PID-1^^^&1.2.840.99.1&ISO";

/** A KOS manifest of `instances`, all held by one source. */
function manifest(
  uid: string,
  instances: readonly FakeInstance[],
): FakeInstance {
  const studyUid = instances[0]!.studyUid;
  const series = [...new Set(instances.map((i) => i.seriesUid))];
  return {
    studyUid,
    seriesUid: `${uid}.1`,
    instanceUid: uid,
    bytes: buildKos({
      sopInstanceUid: uid,
      studies: [{
        studyUid,
        series: series.map((seriesUid) => ({
          seriesUid,
          repositoryUniqueId: "1.2.840.99.1.20",
          instances: instances.filter((i) => i.seriesUid === seriesUid),
        })),
      }],
    }),
  };
}

/** Starts the loopback affinity domain; returns its URLs. */
async function fakeDomain() {
  const ct = syntheticStudy({ series: 2, instancesPerSeries: 3, seed: 1 });
  const mr = syntheticStudy({ series: 1, instancesPerSeries: 2, seed: 2 });
  const kos = [
    manifest("1.2.840.99.1.31", ct),
    manifest("1.2.840.99.1.32", mr),
  ];
  // The source lost one MR instance: the report will name it.
  const source = await FakeRad69Server.start({
    instances: [...ct, ...mr.slice(1)],
  });
  const repository = await FakeRad69Server.start({ instances: kos });
  const registry = await FakeXdsRegistry.start({
    documents: kos.map((k) => ({
      patientId: PATIENT,
      uniqueId: k.instanceUid,
      repositoryUniqueId: "1.2.840.99.1.10",
    })),
  });
  return {
    args: [registry.url, repository.url, source.url, PATIENT],
    async [Symbol.asyncDispose]() {
      await Promise.all([source.close(), repository.close(), registry.close()]);
    },
  };
}

/** Runs the flow; returns the exit status (0 when everything arrived). */
export async function main(args: string[]): Promise<number> {
  await using domain = args.length === 0 ? await fakeDomain() : undefined;
  const [registry, repository, url, patientId] = domain?.args ?? args;
  const dir = args[4] ?? await Deno.makeTempDir({ prefix: "rad69-patient-" });
  const consumer = new XdsImagingConsumer({
    registry: registry!,
    repository: repository!, // every repository at one URL
    url: url!, // every imaging document source at one URL
    logger: {},
  });
  const report = await consumer.downloadForPatient(
    { patientId: patientId! },
    dir,
    { resume: true },
  );
  for (const m of report.manifests) {
    console.log(
      `manifest ${m.documentUniqueId}: ${m.status}, ${m.instances} instance(s)${
        m.reason ? `: ${m.reason}` : ""
      }`,
    );
  }
  for (const s of report.sources) {
    console.log(
      `source ${s.repositoryUniqueId}: ${s.delivered} delivered, ${s.skipped} present, ${s.failed} failed`,
    );
  }
  for (const entry of report.entries) {
    if (entry.status === "failed") {
      console.log(`not delivered: ${entry.ref.instanceUid}: ${entry.reason}`);
    }
  }
  console.log(`${report.delivered} delivered into ${dir}`);
  if (args.length === 0) await Deno.remove(dir, { recursive: true });
  return report.complete ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
