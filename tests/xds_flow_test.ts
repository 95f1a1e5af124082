/**
 * The XDS-I.b consumer end to end on loopback: a fake registry (ITI-18), a
 * fake repository holding KOS manifests (ITI-43) and fake imaging document
 * sources (RAD-69), and every failure on the way.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  RegistryQueryError,
  UnknownSourceError,
  XdsImagingConsumer,
  XDSMissingDocumentError,
} from "../mod.ts";
import {
  buildKos,
  type FakeInstance,
  FakeRad69Server,
  FakeXdsRegistry,
  syntheticStudy,
} from "../src/testing/mod.ts";
import { RAD75_ACTION } from "../src/soap/request.ts";
import { ITI38_ACTION, ITI39_ACTION } from "../src/xds/mod.ts";

const PATIENT = "PID-42^^^&1.2.840.99.7&ISO";
const REPOSITORY = "1.2.840.99.100";
const SOURCE_A = "1.2.840.99.201";
const SOURCE_B = "1.2.840.99.202";

/** A KOS listing `instances`, each series at `source`. */
function kosOf(
  uid: string,
  instances: readonly FakeInstance[],
  source: string | ((seriesUid: string) => string),
): FakeInstance {
  const studies = [...new Set(instances.map((i) => i.studyUid))].map((
    studyUid,
  ) => ({
    studyUid,
    series: [
      ...new Set(
        instances.filter((i) => i.studyUid === studyUid).map((i) =>
          i.seriesUid
        ),
      ),
    ].map((seriesUid) => ({
      seriesUid,
      repositoryUniqueId: typeof source === "string"
        ? source
        : source(seriesUid),
      instances: instances.filter((i) => i.seriesUid === seriesUid),
    })),
  }));
  const bytes = buildKos({ sopInstanceUid: uid, patientId: "PID-42", studies });
  return {
    studyUid: studies[0]!.studyUid,
    seriesUid: `${uid}.1`,
    instanceUid: uid,
    bytes,
  };
}

/** Two studies in two sources, two manifests, a registry, a repository. */
async function domain(options: { missingKos?: boolean } = {}) {
  const studyA = syntheticStudy({ series: 2, instancesPerSeries: 2 });
  const studyB = syntheticStudy({ series: 1, instancesPerSeries: 3, seed: 2 });
  const kosA = kosOf("1.2.840.99.9.1", studyA, SOURCE_A);
  const kosB = kosOf("1.2.840.99.9.2", studyB, SOURCE_B);
  const sourceA = await FakeRad69Server.start({ instances: studyA });
  const sourceB = await FakeRad69Server.start({ instances: studyB });
  const repository = await FakeRad69Server.start({
    instances: options.missingKos ? [kosA] : [kosA, kosB],
  });
  const registry = await FakeXdsRegistry.start({
    documents: [
      {
        patientId: PATIENT,
        uniqueId: kosA.instanceUid,
        repositoryUniqueId: REPOSITORY,
      },
      {
        patientId: PATIENT,
        uniqueId: kosB.instanceUid,
        repositoryUniqueId: REPOSITORY,
      },
      {
        patientId: PATIENT,
        uniqueId: "1.2.840.99.9.3",
        repositoryUniqueId: REPOSITORY,
        mimeType: "application/pdf",
        formatCode: {
          code: "urn:ihe:rad:PDF",
          scheme: "1.3.6.1.4.1.19376.1.2.3",
        },
      },
      {
        patientId: "OTHER^^^&1.2.840.99.7&ISO",
        uniqueId: "1.2.840.99.9.4",
        repositoryUniqueId: REPOSITORY,
      },
    ],
  });
  const dir = await Deno.makeTempDir();
  return {
    studyA,
    studyB,
    kosA,
    kosB,
    sourceA,
    sourceB,
    repository,
    registry,
    dir,
    consumer: (extra: Record<string, unknown> = {}) =>
      new XdsImagingConsumer({
        registry: registry.url,
        repositories: { [REPOSITORY]: repository.url },
        sources: { [SOURCE_A]: sourceA.url, [SOURCE_B]: sourceB.url },
        retries: 0,
        ...extra,
      }),
    async [Symbol.asyncDispose]() {
      await Promise.all([
        sourceA.close(),
        sourceB.close(),
        repository.close(),
        registry.close(),
      ]);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("patient → ITI-18 → ITI-43 → RAD-69 → files, manifests kept", async () => {
  await using d = await domain();
  const report = await d.consumer().downloadForPatient(
    { patientId: PATIENT },
    d.dir,
  );
  assert.ok(report.complete);
  assert.equal(report.delivered, 7);
  assert.equal(d.registry.requests.length, 1);
  assert.equal(d.repository.requests.length, 1, "one ITI-43 for both KOS");
  assert.equal(d.sourceA.requests.length, 2, "one RAD-69 per series");
  assert.equal(d.sourceB.requests.length, 1);
  for (const r of d.sourceA.requests) {
    assert.deepEqual(r.repositoryUniqueIds, [SOURCE_A]);
  }
  for (const instance of [...d.studyA, ...d.studyB]) {
    const path = join(
      d.dir,
      instance.studyUid,
      instance.seriesUid,
      `${instance.instanceUid}.dcm`,
    );
    assert.deepEqual(await Deno.readFile(path), instance.bytes);
  }
  for (const kos of [d.kosA, d.kosB]) {
    const saved = join(d.dir, "manifests", `${kos.instanceUid}.dcm`);
    assert.deepEqual(await Deno.readFile(saved), kos.bytes);
  }
  assert.deepEqual(
    report.manifests.map((m) => [m.documentUniqueId, m.status, m.instances]),
    [[d.kosA.instanceUid, "fetched", 4], [d.kosB.instanceUid, "fetched", 3]],
  );
  assert.deepEqual(
    report.sources.map((s) => [s.repositoryUniqueId, s.delivered]),
    [[SOURCE_A, 4], [SOURCE_B, 3]],
  );
});

Deno.test("resume across the flow: manifests and files present, no image asked again", async () => {
  await using d = await domain();
  await d.consumer().downloadForPatient({ patientId: PATIENT }, d.dir);
  d.repository.clearRequests();
  d.sourceA.clearRequests();
  const again = await d.consumer().downloadForPatient(
    { patientId: PATIENT },
    d.dir,
    { resume: true },
  );
  assert.ok(again.complete);
  assert.equal(again.skipped, 7);
  assert.equal(again.delivered, 0);
  assert.equal(d.repository.requests.length, 0, "manifests reused");
  assert.equal(d.sourceA.requests.length, 0);
  assert.deepEqual(again.manifests.map((m) => m.status), [
    "present",
    "present",
  ]);
});

Deno.test("no documents for the patient: an empty report, nothing requested", async () => {
  await using d = await domain();
  const report = await d.consumer().downloadForPatient(
    { patientId: "NOBODY^^^&1.2.840.99.7&ISO" },
    d.dir,
  );
  assert.equal(report.manifests.length, 0);
  assert.equal(report.entries.length, 0);
  assert.equal(d.repository.requests.length, 0);
});

Deno.test("a registry error is a RegistryQueryError with the registry's code", async () => {
  await using d = await domain();
  d.registry.plan = { registryError: { code: "XDSRegistryBusy" } };
  await assert.rejects(
    d.consumer().downloadForPatient({ patientId: PATIENT }, d.dir),
    (e: unknown) =>
      e instanceof RegistryQueryError && e.code === "XDSRegistryBusy",
  );
  assert.equal(d.repository.requests.length, 0);
});

Deno.test("a KOS missing from the repository fails that manifest; the other is downloaded", async () => {
  await using d = await domain({ missingKos: true });
  const report = await d.consumer().downloadForPatient(
    { patientId: PATIENT },
    d.dir,
  );
  assert.equal(report.complete, false);
  assert.equal(report.delivered, 4);
  const failed = report.manifests.find((m) => m.status === "failed")!;
  assert.equal(failed.documentUniqueId, d.kosB.instanceUid);
  assert.ok(failed.error instanceof XDSMissingDocumentError);
  assert.equal(d.sourceB.requests.length, 0);
});

Deno.test("an unknown Retrieve Location UID stops the run before any image request", async () => {
  await using d = await domain();
  const consumer = d.consumer({ sources: { [SOURCE_A]: d.sourceA.url } });
  await assert.rejects(
    consumer.downloadForPatient({ patientId: PATIENT }, d.dir),
    (e: unknown) =>
      e instanceof UnknownSourceError &&
      e.repositoryUniqueIds.join() === SOURCE_B &&
      /1\.2\.840\.99\.202 \(3 instances in 1 series\)/.test(e.message),
  );
  assert.equal(d.sourceA.requests.length, 0);
  assert.equal(d.sourceB.requests.length, 0);
});

Deno.test("one source down while the other delivers", async () => {
  await using d = await domain();
  d.sourceB.plan = { http: { status: 503 } };
  const report = await d.consumer().downloadForPatient(
    { patientId: PATIENT },
    d.dir,
  );
  assert.equal(report.complete, false);
  assert.equal(report.delivered, 4);
  assert.equal(report.failed, 3);
  assert.deepEqual(
    report.sources.map((s) => [s.repositoryUniqueId, s.delivered, s.failed]),
    [[SOURCE_A, 4, 0], [SOURCE_B, 0, 3]],
  );
});

Deno.test("the plan of a patient requests no image", async () => {
  await using d = await domain();
  const plan = await d.consumer().planForPatient({ patientId: PATIENT });
  assert.equal(plan.instances, 7);
  assert.deepEqual(
    plan.sources.map((s) => [s.repositoryUniqueId, s.series, s.refs.length]),
    [[SOURCE_A, 2, 4], [SOURCE_B, 1, 3]],
  );
  assert.equal(d.sourceA.requests.length + d.sourceB.requests.length, 0);
});

Deno.test("manifests in hand: a series without Retrieve Location UID needs one url for all", async () => {
  await using d = await domain();
  const bytes = buildKos({
    studies: [{
      studyUid: d.studyA[0]!.studyUid,
      series: [{
        seriesUid: d.studyA[0]!.seriesUid,
        instances: d.studyA.filter((i) =>
          i.seriesUid === d.studyA[0]!.seriesUid
        ),
      }],
    }],
  });
  const strict = new XdsImagingConsumer({
    sources: { [SOURCE_A]: d.sourceA.url },
  });
  const plan = strict.planManifests([{ bytes, file: "no-location.dcm" }]);
  assert.equal(plan.manifests[0]!.status, "failed");
  assert.match(
    plan.manifests[0]!.reason!,
    /no-location\.dcm.*Retrieve Location UID/,
  );
  const lenient = new XdsImagingConsumer({ url: d.sourceA.url });
  const report = await lenient.downloadManifests([{ bytes }], d.dir);
  assert.ok(report.complete);
  assert.equal(report.delivered, 2);
});

Deno.test("across communities: ITI-38, ITI-39 and RAD-75 through gateways of one community", async () => {
  const community = "urn:oid:1.2.840.99.55";
  const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
  const kos = kosOf("1.2.840.99.9.7", study, SOURCE_A);
  await using images = await FakeRad69Server.start({
    instances: study,
    homeCommunityId: community,
  });
  await using repository = await FakeRad69Server.start({
    instances: [kos],
    homeCommunityId: community,
  });
  await using registry = await FakeXdsRegistry.start({
    homeCommunityId: community,
    documents: [{
      patientId: PATIENT,
      uniqueId: kos.instanceUid,
      repositoryUniqueId: REPOSITORY,
    }],
  });
  const dir = await Deno.makeTempDir();
  try {
    const consumer = new XdsImagingConsumer({
      registry: registry.url,
      repository: repository.url,
      url: images.url,
      crossGateway: true,
      homeCommunityId: community,
      retries: 0,
    });
    const report = await consumer.downloadForPatient(
      { patientId: PATIENT },
      dir,
    );
    assert.ok(report.complete, JSON.stringify(report.manifests));
    assert.equal(report.delivered, 2);
    assert.equal(registry.requests[0]!.action, ITI38_ACTION);
    assert.equal(repository.requests[0]!.action, ITI39_ACTION);
    assert.equal(images.requests[0]!.action, RAD75_ACTION);
    assert.deepEqual(images.requests[0]!.homeCommunityIds, [community]);
    assert.equal(report.manifests[0]!.homeCommunityId, community);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a registry's PartialSuccess is reported and leaves the report incomplete", async () => {
  await using d = await domain();
  d.registry.plan = {
    partialSuccess: {
      code: "XDSUnavailableCommunity",
      context: "Community urn:oid:1.9 did not answer",
      location: "urn:oid:1.9",
    },
  };
  const warnings: string[] = [];
  const report = await d.consumer({
    logger: { warn: (m: string) => warnings.push(m) },
  })
    .downloadForPatient({ patientId: PATIENT }, d.dir);
  assert.equal(report.delivered, 7, "what was found is downloaded");
  assert.equal(report.complete, false, "but entries may be missing");
  assert.equal(report.registry?.status, "PartialSuccess");
  assert.deepEqual(report.registry?.errors.map((e) => e.code), [
    "XDSUnavailableCommunity",
  ]);
  assert.ok(warnings.some((w) => w.includes("XDSUnavailableCommunity")));
});
