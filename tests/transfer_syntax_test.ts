/**
 * Every transfer syntax a server may store is delivered byte-exact, by
 * `datasets()` and `download()`, with the SOP Instance UID checked: native
 * (implicit/explicit VR little endian, explicit big endian), deflated, and
 * every encapsulated one (JPEG, JPEG-LS, JPEG 2000, HTJ2K, RLE, MPEG-2,
 * MPEG-4, HEVC). The files are the fixtures in `fixtures/transfer-syntaxes/`.
 */
import assert from "node:assert/strict";
import {
  decodeInstance,
  type InstanceReference,
  InvalidDicomError,
  Rad69Client,
  SopInstanceMismatchError,
} from "../mod.ts";
import { parsePart10 } from "../src/dicom.ts";
import { buildDicomInstance, FakeRad69Server } from "../src/testing/mod.ts";
import {
  fixtureBytes,
  fixtureRef,
  SYNTAXES,
  type SyntaxFixture,
} from "../fixtures/transfer-syntaxes/make.ts";
import { collect, sameBytes } from "./_utils/refs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const DIR = new URL("../fixtures/transfer-syntaxes/", import.meta.url);
const DEFLATED = "1.2.840.10008.1.2.1.99";

/** The fixture file of `syntax`. */
function readFixture(syntax: SyntaxFixture): Promise<Uint8Array> {
  return Deno.readFile(new URL(`${syntax.name}.dcm`, DIR));
}

/** Replaces the first occurrence of `from` by `to` (same length). */
function replaceFirst(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const needle = new TextEncoder().encode(from);
  const out = bytes.slice();
  for (let i = 0; i + needle.length <= out.length; i++) {
    if (needle.every((b, j) => out[i + j] === b)) {
      out.set(new TextEncoder().encode(to), i);
      return out;
    }
  }
  throw new Error(`"${from}" not found`);
}

Deno.test("fixtures/transfer-syntaxes/ holds what make.ts builds, a few KB each", async () => {
  const names = new Set<string>();
  for await (const entry of Deno.readDir(DIR)) {
    if (entry.name.endsWith(".dcm")) names.add(entry.name);
  }
  assert.deepEqual(
    [...names].sort(),
    SYNTAXES.map((s) => `${s.name}.dcm`).sort(),
  );
  for (const [index, syntax] of SYNTAXES.entries()) {
    const bytes = await readFixture(syntax);
    assert.ok(bytes.length < 4096, `${syntax.name}: ${bytes.length} bytes`);
    assert.ok(sameBytes(bytes, fixtureBytes(syntax, index)), syntax.name);
    const ref = fixtureRef(index);
    const dataset = decodeInstance(bytes, ref.instanceUid);
    assert.equal(dataset.string("x00020010"), syntax.uid);
    assert.equal(dataset.string("x0020000e"), ref.seriesUid);
    assert.equal(dataset.uint16("x00280010"), 16);
    assert.equal(dataset.intString("x00280008"), 2);
    const pixels = dataset.elements["x7fe00010"]!;
    if (syntax.encapsulated) {
      assert.equal(pixels.encapsulatedPixelData, true, syntax.name);
      assert.deepEqual(pixels.basicOffsetTable, [0, 8 + 256 + 8 + 256]);
      assert.equal(pixels.fragments?.length, 4);
    } else {
      assert.equal(pixels.length, 2 * 16 * 16 * 2, syntax.name);
    }
  }
});

for (const [index, syntax] of SYNTAXES.entries()) {
  Deno.test(`${syntax.name} (${syntax.uid}) is delivered byte-exact, its SOP Instance UID checked`, async () => {
    const bytes = await readFixture(syntax);
    const ref: InstanceReference = fixtureRef(index);
    /** A file of this syntax holding `uid`, 16 × 16 pixels. */
    const build = (uid: string) =>
      buildDicomInstance({
        ...ref,
        instanceUid: uid,
        transferSyntaxUid: syntax.uid,
        rows: 16,
        columns: 16,
      });
    // Asked for as `wrongMeta`: the File Meta Information and the dataset
    // both name another instance.
    const wrongMeta = { ...ref, instanceUid: `${ref.instanceUid}1` };
    const metaFound = `${ref.instanceUid}2`;
    // Asked for as `wrongDataset`: the File Meta Information names it, the
    // dataset's (0008,0018) another (read after inflating, when deflated).
    const wrongDataset = { ...ref, instanceUid: `${ref.instanceUid}3` };
    const datasetFound = `${ref.instanceUid}4`;
    await using server = await FakeRad69Server.start({
      instances: [
        { ...ref, bytes },
        { ...wrongMeta, bytes: build(metaFound) },
        {
          ...wrongDataset,
          bytes: replaceFirst(
            build(datasetFound),
            datasetFound,
            wrongDataset.instanceUid,
          ),
        },
      ],
    });
    const client = new Rad69Client({
      url: server.url,
      transferSyntaxes: [syntax.uid],
    });

    const [instance] = await collect(client.datasets([ref]));
    assert.ok(instance);
    assert.ok(sameBytes(instance.bytes, bytes), "datasets() bytes differ");
    assert.equal(instance.dataset.string("x00080018"), ref.instanceUid);
    assert.equal(instance.dataset.string("x00020010"), syntax.uid);
    assert.equal(instance.dataset.string("x0020000d"), ref.studyUid);

    const dir = await Deno.makeTempDir();
    try {
      const report = await client.download([ref], dir);
      assert.equal(report.delivered, 1, JSON.stringify(report.entries));
      const file = await Deno.readFile(
        `${dir}/${ref.studyUid}/${ref.seriesUid}/${ref.instanceUid}.dcm`,
      );
      assert.ok(sameBytes(file, bytes), "download() bytes differ");
      // The file on disk is recognised as complete on resume.
      const again = await client.download([ref], dir, { resume: true });
      assert.equal(again.skipped, 1);
      assert.equal(again.delivered, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }

    const cases = [[wrongMeta, metaFound], [
      wrongDataset,
      datasetFound,
    ]] as const;
    for (const [wanted, found] of cases) {
      await assert.rejects(client.getDataset(wanted), (e) => {
        assert.ok(e instanceof SopInstanceMismatchError, String(e));
        assert.equal(e.documentUniqueId, wanted.instanceUid);
        assert.equal(e.foundSopInstanceUid, found);
        return true;
      });
    }
  });
}

Deno.test("a deflated instance is delivered byte-exact through workers too", async () => {
  const index = SYNTAXES.findIndex((s) => s.uid === DEFLATED);
  const bytes = await readFixture(SYNTAXES[index]!);
  const ref = fixtureRef(index);
  await using server = await FakeRad69Server.start({
    instances: [{ ...ref, bytes }],
  });
  const client = new Rad69Client({
    url: server.url,
    concurrency: 2,
    workers: true,
    transferSyntaxes: [DEFLATED],
  });
  const [instance] = await collect(client.datasets([ref]));
  assert.ok(instance && sameBytes(instance.bytes, bytes));
  assert.equal(instance.dataset.string("x00080018"), ref.instanceUid);
});

Deno.test("parsePart10() reads the head of a deflated file, and refuses a cut one", () => {
  const bytes = buildDicomInstance({
    instanceUid: "1.2.3.4.5",
    transferSyntaxUid: DEFLATED,
    pixelBytes: 256 * 1024,
    pixelContent: "random",
  });
  const head = bytes.subarray(0, 4096);
  const dataset = parsePart10(head, { untilTag: "x00080018", partial: true });
  assert.equal(dataset.string("x00080018"), "1.2.3.4.5");
  assert.throws(() => parsePart10(head), /cannot inflate/);
  assert.throws(() => decodeInstance(head, "1.2.3.4.5"), InvalidDicomError);
});

Deno.test("buildDicomInstance() writes big endian pixel words in big endian", () => {
  const options = { instanceUid: "1.2.3", rows: 4, columns: 4, seed: 3 };
  const le = decodeInstance(buildDicomInstance(options), "1.2.3");
  const be = decodeInstance(
    buildDicomInstance({
      ...options,
      transferSyntaxUid: "1.2.840.10008.1.2.2",
    }),
    "1.2.3",
  );
  assert.equal(be.uint16("x00280010"), 4);
  const words = (ds: typeof le, littleEndian: boolean) => {
    const px = ds.elements["x7fe00010"]!;
    const view = new DataView(ds.byteArray.buffer, px.dataOffset, px.length);
    return Array.from(
      { length: 16 },
      (_, i) => view.getUint16(i * 2, littleEndian),
    );
  };
  assert.deepEqual(words(be, false), words(le, true));
  assert.ok(words(le, true).some((w) => w > 255));
});
