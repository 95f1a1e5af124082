import assert from "node:assert/strict";
import dicomParser from "dicom-parser";
import {
  buildDicomInstance,
  syntheticStudy,
} from "../src/testing/dicom_builder.ts";

const UID = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

Deno.test("buildDicomInstance() writes a Part-10 file dicom-parser reads", () => {
  const bytes = buildDicomInstance({
    studyUid: "1.2.3",
    seriesUid: "1.2.3.4",
    instanceUid: "1.2.3.4.5",
    rows: 16,
    columns: 8,
    patientName: "DOE^JANE",
  });
  assert.deepEqual([...bytes.subarray(0, 128)], new Array(128).fill(0));
  assert.equal(new TextDecoder().decode(bytes.subarray(128, 132)), "DICM");
  const ds = dicomParser.parseDicom(bytes);
  assert.equal(ds.string("x00080018"), "1.2.3.4.5");
  assert.equal(ds.string("x0020000d"), "1.2.3");
  assert.equal(ds.string("x0020000e"), "1.2.3.4");
  assert.equal(ds.string("x00020003"), "1.2.3.4.5");
  assert.equal(ds.string("x00020002"), "1.2.840.10008.5.1.4.1.1.2");
  assert.equal(ds.string("x00080016"), "1.2.840.10008.5.1.4.1.1.2");
  assert.equal(ds.string("x00020010"), "1.2.840.10008.1.2.1");
  assert.ok(ds.string("x00020012"));
  assert.equal(ds.string("x00100010"), "DOE^JANE");
  assert.equal(ds.string("x00080060"), "CT");
  assert.equal(ds.uint16("x00280010"), 16);
  assert.equal(ds.uint16("x00280011"), 8);
  assert.equal(ds.uint16("x00280100"), 16);
  assert.equal(ds.uint16("x00280101"), 12);
  assert.equal(ds.uint16("x00280102"), 11);
  const pixel = ds.elements["x7fe00010"]!;
  assert.equal(pixel.vr, "OW");
  assert.equal(pixel.length, 16 * 8 * 2);
  assert.equal(pixel.dataOffset + pixel.length, bytes.length);
  // 12-bit values.
  const view = new DataView(bytes.buffer, pixel.dataOffset, pixel.length);
  for (let i = 0; i < pixel.length; i += 2) {
    assert.ok(view.getUint16(i, true) < 4096);
  }
});

Deno.test("buildDicomInstance() writes a correct File Meta group length", () => {
  const bytes = buildDicomInstance({ instanceUid: "1.2.3.4.5" });
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  // (0002,0000) UL right after DICM.
  assert.equal(view.getUint16(132, true), 0x0002);
  assert.equal(view.getUint16(134, true), 0x0000);
  assert.equal(String.fromCharCode(bytes[136]!, bytes[137]!), "UL");
  const groupLength = view.getUint32(140, true);
  const metaEnd = 144 + groupLength;
  // The next element is the first one outside group 0002.
  assert.notEqual(view.getUint16(metaEnd, true), 0x0002);
  assert.equal(view.getUint16(metaEnd - 0, true), 0x0008);
  // UIDs are NUL padded to even length.
  const ds = dicomParser.parseDicom(bytes);
  const sop = ds.elements["x00080018"]!;
  assert.equal(sop.length % 2, 0);
  assert.equal(bytes[sop.dataOffset + sop.length - 1], 0);
});

Deno.test("buildDicomInstance() keeps tags in ascending order", () => {
  const bytes = buildDicomInstance({ pixelBytes: 600_000 });
  const ds = dicomParser.parseDicom(bytes);
  const inFileOrder = Object.keys(ds.elements).sort((a, b) =>
    ds.elements[a]!.dataOffset - ds.elements[b]!.dataOffset
  );
  assert.deepEqual(inFileOrder, [...inFileOrder].sort());
});

Deno.test("buildDicomInstance() is deterministic and seedable", () => {
  const a = buildDicomInstance({ instanceUid: "1.2.3", seed: 42 });
  const b = buildDicomInstance({ instanceUid: "1.2.3", seed: 42 });
  const c = buildDicomInstance({ instanceUid: "1.2.3", seed: 43 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const r1 = buildDicomInstance({ pixelContent: "random", seed: 1 });
  const r2 = buildDicomInstance({ pixelContent: "random", seed: 1 });
  assert.deepEqual(r1, r2);
  const ds = dicomParser.parseDicom(r1);
  const px = ds.elements["x7fe00010"]!;
  const high = r1.subarray(px.dataOffset, px.dataOffset + px.length)
    .filter((_, i) => i % 2 === 1 && true);
  assert.ok(high.some((v) => v >= 16), "random bytes exceed 12 bits");
});

Deno.test("buildDicomInstance() sizes pixel data from pixelBytes", () => {
  for (const size of [2, 1024, 8192, 1 << 20]) {
    const bytes = buildDicomInstance({ pixelBytes: size });
    const ds = dicomParser.parseDicom(bytes);
    const px = ds.elements["x7fe00010"]!;
    assert.equal(px.length, size);
    assert.equal(
      ds.uint16("x00280010")! * ds.uint16("x00280011")! * 2,
      size,
    );
  }
  const odd = buildDicomInstance({ pixelBytes: 1001 });
  const px = dicomParser.parseDicom(odd).elements["x7fe00010"]!;
  assert.ok(px.length >= 1001 && px.length % 2 === 0);
  assert.throws(() => buildDicomInstance({ pixelBytes: 0 }), RangeError);
  assert.throws(() => buildDicomInstance({ rows: 0 }), RangeError);
});

Deno.test("buildDicomInstance() supports implicit and encapsulated syntaxes", () => {
  const implicit = buildDicomInstance({
    instanceUid: "1.2.3.9",
    transferSyntaxUid: "1.2.840.10008.1.2",
  });
  const ds = dicomParser.parseDicom(implicit);
  assert.equal(ds.string("x00080018"), "1.2.3.9");
  assert.equal(ds.string("x00020010"), "1.2.840.10008.1.2");
  assert.equal(ds.elements["x7fe00010"]!.length, 64 * 64 * 2);

  const jpeg = buildDicomInstance({
    instanceUid: "1.2.3.10",
    transferSyntaxUid: "1.2.840.10008.1.2.4.70",
    pixelBytes: 4096,
  });
  const ds2 = dicomParser.parseDicom(jpeg);
  assert.equal(ds2.string("x00080018"), "1.2.3.10");
  const px = ds2.elements["x7fe00010"]!;
  assert.equal(px.encapsulatedPixelData, true);
  assert.equal(px.fragments?.length, 1);
  assert.equal(px.fragments?.[0]?.length, 4096);
});

Deno.test("buildDicomInstance() rejects invalid UIDs", () => {
  assert.throws(() => buildDicomInstance({ instanceUid: "1.02.3" }), TypeError);
  assert.throws(() => buildDicomInstance({ studyUid: "abc" }), TypeError);
  assert.throws(
    () => buildDicomInstance({ seriesUid: "1." + "2".repeat(64) }),
    TypeError,
  );
});

Deno.test("syntheticStudy() builds N series × M valid instances", () => {
  const study = syntheticStudy({ series: 3, instancesPerSeries: 4, seed: 9 });
  assert.equal(study.length, 12);
  assert.equal(new Set(study.map((i) => i.studyUid)).size, 1);
  assert.equal(new Set(study.map((i) => i.seriesUid)).size, 3);
  assert.equal(new Set(study.map((i) => i.instanceUid)).size, 12);
  for (const inst of study) {
    for (const uid of [inst.studyUid, inst.seriesUid, inst.instanceUid]) {
      assert.match(uid, UID);
      assert.ok(uid.length <= 64);
    }
    assert.ok(inst.instanceUid.startsWith(inst.seriesUid + "."));
    assert.ok(inst.seriesUid.startsWith(inst.studyUid + "."));
    const ds = dicomParser.parseDicom(inst.bytes);
    assert.equal(ds.string("x00080018"), inst.instanceUid);
    assert.equal(ds.string("x0020000e"), inst.seriesUid);
    assert.equal(ds.string("x0020000d"), inst.studyUid);
  }
  // Deterministic.
  const again = syntheticStudy({ series: 3, instancesPerSeries: 4, seed: 9 });
  assert.deepEqual(again[5]!.bytes, study[5]!.bytes);
  assert.notDeepEqual(study[0]!.bytes, study[1]!.bytes);
});

Deno.test("syntheticStudy() honours root and refuses over-long UIDs", () => {
  const study = syntheticStudy({
    root: "2.25.1234",
    series: 1,
    instancesPerSeries: 1,
    pixelBytes: 2048,
  });
  assert.equal(study[0]!.instanceUid, "2.25.1234.1.1.1");
  assert.throws(
    () => syntheticStudy({ root: "1." + "2".repeat(60) }),
    RangeError,
  );
  assert.throws(() => syntheticStudy({ root: "1..2" }), TypeError);
  assert.throws(() => syntheticStudy({ series: -1 }), RangeError);
});
