/**
 * KOS manifests (XDS-I.b) read into references: every encoding buildKos
 * writes, many studies, a round-trip property, each error with its exact tag
 * path, and the fixtures in `fixtures/kos/`.
 */
import assert from "node:assert/strict";
import { InvalidUidError, KosError, Rad69Error } from "../src/errors.ts";
import {
  KOS_SOP_CLASS_UID,
  type KosReference,
  kosToReferences,
  readKos,
} from "../src/xds/kos.ts";
import {
  buildDicomInstance,
  buildKos,
  type KosStudyOptions,
  type KosTransferSyntax,
} from "../src/testing/mod.ts";
import {
  EVIDENCE,
  KOS_FIXTURES,
  kosFixtureBytes,
} from "../fixtures/kos/make.ts";

const CT = "1.2.840.10008.5.1.4.1.1.2";
const SYNTAXES: readonly KosTransferSyntax[] = [
  "implicit-le",
  "explicit-le",
  "explicit-be",
  "deflated",
];
/** Every encoding: each transfer syntax with defined and undefined lengths. */
const ENCODINGS = SYNTAXES.flatMap((transferSyntax) =>
  [false, true].map((undefinedLengths) => ({
    transferSyntax,
    undefinedLengths,
  }))
);

/** What kosToReferences() must give for `studies`. */
function expected(
  studies: readonly KosStudyOptions[],
  defaultRepositoryUniqueId?: string,
): KosReference[] {
  return studies.flatMap((study) =>
    study.series.flatMap((series) =>
      series.instances.map((instance) => ({
        studyUid: study.studyUid,
        seriesUid: series.seriesUid,
        instanceUid: instance.instanceUid,
        repositoryUniqueId: series.repositoryUniqueId ??
          defaultRepositoryUniqueId!,
        sopClassUid: instance.sopClassUid ?? CT,
        ...(series.retrieveAeTitle !== undefined
          ? { retrieveAeTitle: series.retrieveAeTitle }
          : {}),
        ...(series.retrieveUrl !== undefined
          ? { retrieveUrl: series.retrieveUrl }
          : {}),
      }))
    )
  );
}

/** A xorshift32 generator. */
function random(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

/** Random evidence: 1–4 studies × 1–3 series × 1–4 instances. */
function randomStudies(next: (n: number) => number): KosStudyOptions[] {
  const root = `1.2.826.0.1.3680043.10.1234.${next(100000)}`;
  return Array.from({ length: 1 + next(4) }, (_, s) => ({
    studyUid: `${root}.${s + 1}`,
    series: Array.from({ length: 1 + next(3) }, (_, r) => ({
      seriesUid: `${root}.${s + 1}.${r + 1}`,
      repositoryUniqueId: `1.3.6.1.4.1.21367.13.80.${110 + next(3)}`,
      ...(next(2)
        ? { retrieveAeTitle: ["PACS", "VNA_01", "AE"][next(3)]! }
        : {}),
      ...(next(2)
        ? { retrieveUrl: `https://pacs.example/wado/${next(999)}` }
        : {}),
      instances: Array.from({ length: 1 + next(4) }, (_, i) => ({
        instanceUid: `${root}.${s + 1}.${r + 1}.${i + 1}`,
        ...(next(2) ? { sopClassUid: "1.2.840.10008.5.1.4.1.1.4" } : {}),
      })),
    })),
  }));
}

for (const encoding of ENCODINGS) {
  const label = `${encoding.transferSyntax}${
    encoding.undefinedLengths ? ", undefined lengths" : ""
  }`;
  Deno.test(`readKos() reads a ${label} manifest of two studies`, () => {
    const bytes = buildKos({
      ...encoding,
      studies: EVIDENCE,
      patientId: "PAT-1",
      sopInstanceUid: "1.2.3.999",
    });
    const manifest = readKos(bytes, { file: "manifest.dcm" });
    assert.equal(manifest.sopInstanceUid, "1.2.3.999");
    assert.equal(manifest.patientId, "PAT-1");
    assert.deepEqual(manifest.references, expected(EVIDENCE));
    assert.deepEqual(
      manifest.studies.map((s) => s.series.map((r) => r.instances.length)),
      [[2, 1], [2]],
    );
    assert.deepEqual(kosToReferences(bytes), expected(EVIDENCE));
  });
}

Deno.test("kosToReferences() reads many studies in one manifest", () => {
  const studies: KosStudyOptions[] = Array.from({ length: 60 }, (_, s) => ({
    studyUid: `1.2.3.${s + 1}`,
    series: Array.from({ length: 3 }, (_, r) => ({
      seriesUid: `1.2.3.${s + 1}.${r + 1}`,
      repositoryUniqueId: `1.2.99.${r + 1}`,
      instances: Array.from({ length: 4 }, (_, i) => ({
        instanceUid: `1.2.3.${s + 1}.${r + 1}.${i + 1}`,
      })),
    })),
  }));
  for (const encoding of ENCODINGS) {
    const refs = kosToReferences(buildKos({ ...encoding, studies }));
    assert.equal(refs.length, 60 * 3 * 4);
    assert.deepEqual(refs, expected(studies));
  }
});

Deno.test("buildKos() → kosToReferences() gives back exactly the input references (300 random manifests)", () => {
  const next = random(20240601);
  for (let run = 0; run < 300; run++) {
    const studies = randomStudies(next);
    const encoding = ENCODINGS[next(ENCODINGS.length)]!;
    const bytes = buildKos({ ...encoding, studies });
    assert.deepEqual(
      kosToReferences(bytes),
      expected(studies),
      `run ${run}, ${JSON.stringify(encoding)}`,
    );
  }
});

Deno.test("readKos() writes what buildKos() was given as studies", () => {
  const studies = randomStudies(random(7));
  const manifest = readKos(buildKos({ studies, undefinedLengths: true }));
  assert.deepEqual(
    manifest.studies,
    studies.map((study) => ({
      ...study,
      series: study.series.map((series) => ({
        ...series,
        instances: series.instances.map((i) => ({
          instanceUid: i.instanceUid,
          sopClassUid: i.sopClassUid ?? CT,
        })),
      })),
    })),
  );
});

Deno.test("kosToReferences() gives series without a Retrieve Location UID the default repository", () => {
  const studies: KosStudyOptions[] = [{
    studyUid: "1.2.3",
    series: [
      { seriesUid: "1.2.3.1", instances: [{ instanceUid: "1.2.3.1.1" }] },
      {
        seriesUid: "1.2.3.2",
        repositoryUniqueId: "1.2.77",
        instances: [{ instanceUid: "1.2.3.2.1" }],
      },
    ],
  }];
  for (const encoding of ENCODINGS) {
    const refs = kosToReferences(buildKos({ ...encoding, studies }), {
      defaultRepositoryUniqueId: "1.2.99",
    });
    assert.deepEqual(refs, expected(studies, "1.2.99"));
    assert.deepEqual(refs.map((r) => r.repositoryUniqueId), [
      "1.2.99",
      "1.2.77",
    ]);
  }
  assert.throws(
    () =>
      kosToReferences(buildKos({ studies }), {
        defaultRepositoryUniqueId: "1.02",
      }),
    InvalidUidError,
  );
});

/** A good study; `patch` breaks a copy of it. */
const GOOD: KosStudyOptions = {
  studyUid: "1.2.3",
  series: [
    {
      seriesUid: "1.2.3.1",
      repositoryUniqueId: "1.2.99",
      instances: [{ instanceUid: "1.2.3.1.1" }, { instanceUid: "1.2.3.1.2" }],
    },
  ],
};

interface ErrorCase {
  name: string;
  studies: readonly KosStudyOptions[];
  message: string;
  tagPath: string;
}

const ERROR_CASES: ErrorCase[] = [
  {
    name: "an empty evidence sequence",
    studies: [],
    tagPath: "(0040,A375)",
    message:
      "manifest.dcm: (0040,A375): the Current Requested Procedure Evidence Sequence is empty",
  },
  {
    name: "a series without Series Instance UID",
    studies: [GOOD, GOOD, {
      studyUid: "1.2.4",
      series: [{ ...GOOD.series[0]!, seriesUid: "" }],
    }],
    tagPath: "(0040,A375)[2] > (0008,1115)[0]",
    message:
      "manifest.dcm: (0040,A375)[2] > (0008,1115)[0]: no Series Instance UID",
  },
  {
    name: "a series without Retrieve Location UID",
    studies: [GOOD, {
      studyUid: "1.2.4",
      series: [GOOD.series[0]!, {
        seriesUid: "1.2.4.2",
        instances: [{ instanceUid: "1.2.4.2.1" }],
      }],
    }],
    tagPath: "(0040,A375)[1] > (0008,1115)[1]",
    message:
      "manifest.dcm: (0040,A375)[1] > (0008,1115)[1]: no Retrieve Location UID (0040,E011), and no defaultRepositoryUniqueId was given",
  },
  {
    name: "a bad Study Instance UID",
    studies: [{ ...GOOD, studyUid: "1.02.3" }],
    tagPath: "(0040,A375)[0] > (0020,000D)",
    message:
      'manifest.dcm: (0040,A375)[0] > (0020,000D): invalid Study Instance UID "1.02.3" has a leading zero in component 2 ("02")',
  },
  {
    name: "a bad Retrieve Location UID",
    studies: [{
      ...GOOD,
      series: [{ ...GOOD.series[0]!, repositoryUniqueId: "1.2.abc" }],
    }],
    tagPath: "(0040,A375)[0] > (0008,1115)[0] > (0040,E011)",
    message:
      'manifest.dcm: (0040,A375)[0] > (0008,1115)[0] > (0040,E011): invalid Retrieve Location UID "1.2.abc" has a character other than a digit or a dot in component 3 ("abc")',
  },
  {
    name: "a bad Referenced SOP Instance UID",
    studies: [{
      ...GOOD,
      series: [{
        ...GOOD.series[0]!,
        instances: [{ instanceUid: "1.2.3.1.1" }, { instanceUid: "1.2..5" }],
      }],
    }],
    tagPath: "(0040,A375)[0] > (0008,1115)[0] > (0008,1199)[1] > (0008,1155)",
    message:
      'manifest.dcm: (0040,A375)[0] > (0008,1115)[0] > (0008,1199)[1] > (0008,1155): invalid Referenced SOP Instance UID "1.2..5" has an empty component 3',
  },
  {
    name: "a bad Referenced SOP Class UID",
    studies: [{
      ...GOOD,
      series: [{
        ...GOOD.series[0]!,
        instances: [{ instanceUid: "1.2.3.1.1", sopClassUid: "1".repeat(65) }],
      }],
    }],
    tagPath: "(0040,A375)[0] > (0008,1115)[0] > (0008,1199)[0] > (0008,1150)",
    message:
      `manifest.dcm: (0040,A375)[0] > (0008,1115)[0] > (0008,1199)[0] > (0008,1150): invalid Referenced SOP Class UID "${
        "1".repeat(65)
      }" is 65 characters long (at most 64)`,
  },
  {
    name: "an empty Referenced Series Sequence",
    studies: [GOOD, { studyUid: "1.2.4", series: [] }],
    tagPath: "(0040,A375)[1] > (0008,1115)",
    message:
      "manifest.dcm: (0040,A375)[1] > (0008,1115): the Referenced Series Sequence is empty",
  },
  {
    name: "an empty Referenced SOP Sequence",
    studies: [{ ...GOOD, series: [{ ...GOOD.series[0]!, instances: [] }] }],
    tagPath: "(0040,A375)[0] > (0008,1115)[0] > (0008,1199)",
    message:
      "manifest.dcm: (0040,A375)[0] > (0008,1115)[0] > (0008,1199): the Referenced SOP Sequence is empty",
  },
];

for (const c of ERROR_CASES) {
  Deno.test(`kosToReferences() refuses ${c.name}, naming the file and the tag path`, () => {
    for (const encoding of ENCODINGS) {
      const bytes = buildKos({ ...encoding, studies: c.studies });
      assert.throws(
        () => kosToReferences(bytes, { file: "manifest.dcm" }),
        (e) => {
          assert.ok(e instanceof KosError, String(e));
          assert.ok(e instanceof Rad69Error);
          assert.equal(e.message, c.message, JSON.stringify(encoding));
          assert.equal(e.tagPath, c.tagPath);
          assert.equal(e.file, "manifest.dcm");
          return true;
        },
      );
    }
  });
}

Deno.test("kosToReferences() refuses bytes that are not a DICOM file", () => {
  const cases: [Uint8Array, string][] = [
    [
      new TextEncoder().encode("<html>Internal error</html>"),
      "manifest.dcm: not a DICOM file: only 27 bytes, too short for a Part-10 file",
    ],
    [
      new Uint8Array(300),
      'manifest.dcm: not a DICOM file: no "DICM" prefix at byte 128',
    ],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(
      () => kosToReferences(bytes, { file: "manifest.dcm" }),
      (e) => e instanceof KosError && e.message === message && e.tagPath === "",
    );
  }
  // A manifest cut short: the file is named, the parser's reason given.
  for (const encoding of ENCODINGS) {
    const whole = buildKos({ ...encoding, studies: EVIDENCE });
    const cut = whole.subarray(0, Math.floor(whole.length * 0.6));
    assert.throws(
      () => kosToReferences(cut, { file: "cut.dcm" }),
      (e) =>
        e instanceof KosError &&
        /^cut\.dcm: not a readable DICOM file: .+/.test(e.message),
      JSON.stringify(encoding),
    );
  }
});

Deno.test("kosToReferences() refuses a file that is not a KOS, saying its SOP class", () => {
  const ct = buildDicomInstance({ instanceUid: "1.2.3.4" });
  assert.throws(() => kosToReferences(ct, { file: "image.dcm" }), (e) => {
    assert.ok(e instanceof KosError);
    assert.equal(
      e.message,
      `image.dcm: (0008,0016): not a Key Object Selection Document (${KOS_SOP_CLASS_UID}): its SOP Class UID is "1.2.840.10008.5.1.4.1.1.2" (CT Image Storage)`,
    );
    return true;
  });
  const other = buildKos({ studies: [GOOD], sopClassUid: "1.2.3.4.5" });
  assert.throws(
    () => kosToReferences(other),
    (e) =>
      e instanceof KosError &&
      e.message ===
        `KOS manifest: (0008,0016): not a Key Object Selection Document (${KOS_SOP_CLASS_UID}): its SOP Class UID is "1.2.3.4.5"`,
  );
  // A file with the KOS SOP class but no evidence at all.
  const bare = buildDicomInstance({
    instanceUid: "1.2.3.4",
    sopClassUid: KOS_SOP_CLASS_UID,
  });
  assert.throws(
    () => kosToReferences(bare, { file: "bare.dcm" }),
    (e) =>
      e instanceof KosError &&
      e.message ===
        "bare.dcm: (0040,A375): no Current Requested Procedure Evidence Sequence",
  );
});

Deno.test("fixtures/kos/ holds what make.ts builds, and their references", async () => {
  const names = new Set<string>();
  for await (
    const entry of Deno.readDir(new URL("../fixtures/kos/", import.meta.url))
  ) {
    if (entry.name.endsWith(".dcm")) names.add(entry.name);
  }
  assert.deepEqual([...names].sort(), Object.keys(KOS_FIXTURES).sort());
  for (const name of names) {
    const bytes = await Deno.readFile(
      new URL(`../fixtures/kos/${name}`, import.meta.url),
    );
    assert.ok(bytes.length < 8192, `${name}: ${bytes.length} bytes`);
    assert.deepEqual(bytes, kosFixtureBytes(name), name);
    const manifest = readKos(bytes, { file: name });
    assert.equal(manifest.patientId, "PAT-0042");
    assert.deepEqual(manifest.references, expected(EVIDENCE));
  }
});
