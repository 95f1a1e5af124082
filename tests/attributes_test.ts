/**
 * Keyword access: the generated dictionary holds the tags of PS3.6, and
 * values are read by their VR.
 */

import assert from "node:assert/strict";
import { readAttribute, tagOfKeyword } from "../src/attributes.ts";
import { decodeInstance } from "../src/dicom.ts";
import { DICTIONARY } from "../src/dictionary.ts";
import { Rad69Instance } from "../src/instance.ts";
import { buildDicomInstance } from "../src/testing/mod.ts";

Deno.test("DICTIONARY holds the PS3.6 tags and VRs of a sample of keywords", () => {
  const known: Record<string, [string, string]> = {
    PatientName: ["00100010", "PN"],
    PatientID: ["00100020", "LO"],
    PatientBirthDate: ["00100030", "DA"],
    StudyInstanceUID: ["0020000d", "UI"],
    SeriesInstanceUID: ["0020000e", "UI"],
    SOPInstanceUID: ["00080018", "UI"],
    SOPClassUID: ["00080016", "UI"],
    Modality: ["00080060", "CS"],
    StudyDate: ["00080020", "DA"],
    AccessionNumber: ["00080050", "SH"],
    SeriesNumber: ["00200011", "IS"],
    InstanceNumber: ["00200013", "IS"],
    Rows: ["00280010", "US"],
    Columns: ["00280011", "US"],
    PixelSpacing: ["00280030", "DS"],
    BitsAllocated: ["00280100", "US"],
    WindowCenter: ["00281050", "DS"],
    ReferencedSeriesSequence: ["00081115", "SQ"],
    TransferSyntaxUID: ["00020010", "UI"],
    PixelData: ["7fe00010", "OB|OW"],
  };
  for (const [keyword, [tag, vr]] of Object.entries(known)) {
    const entry = DICTIONARY[keyword];
    assert.ok(entry, keyword);
    assert.equal(entry[0], tag, keyword);
    assert.equal(entry[1], vr, keyword);
  }
  assert.ok(Object.keys(DICTIONARY).length > 4000);
  assert.equal(tagOfKeyword("Rows"), "x00280010");
});

Deno.test("readAttribute() reads text, numbers and several values by VR", () => {
  const bytes = buildDicomInstance({
    instanceUid: "1.2.3.4",
    rows: 32,
    modality: "MR",
    patientName: "DOE^JANE",
  });
  const dataset = decodeInstance(bytes, "1.2.3.4");
  assert.equal(readAttribute(dataset, "PatientName"), "DOE^JANE");
  assert.equal(readAttribute(dataset, "Modality"), "MR");
  assert.equal(readAttribute(dataset, "Rows"), 32);
  assert.equal(readAttribute(dataset, "StudyDate"), "20240101");
  assert.equal(typeof readAttribute(dataset, "SeriesNumber"), "number");
  assert.equal(readAttribute(dataset, "AccessionNumber"), undefined);
  const pixels = readAttribute(dataset, "PixelData");
  assert.ok(pixels instanceof Uint8Array && pixels.length === 32 * 64 * 2);
  assert.throws(() => readAttribute(dataset, "Row"), /did you mean "Rows"/);
  const instance = new Rad69Instance({
    ref: { studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" },
    bytes,
  });
  assert.equal(instance.get("PatientName"), "DOE^JANE");
});
