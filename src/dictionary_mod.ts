/**
 * The DICOM data dictionary (PS3.6) and keyword access to any dataset, for
 * code that reads attributes by name as pydicom does (`ds.PatientName`).
 * `Rad69Instance.get(keyword)` in the main module covers the common case.
 *
 * @example Read attributes of a dataset by keyword
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeInstance } from "@rad69/client";
 * import { readAttribute, tagOfKeyword } from "@rad69/client/dictionary";
 * import { buildDicomInstance } from "@rad69/client/testing";
 *
 * const ref = { studyUid: "1.2.3", seriesUid: "1.2.3.4", instanceUid: "1.2.3.4.5" };
 * const dataset = decodeInstance(buildDicomInstance(ref), ref.instanceUid);
 * assert.equal(readAttribute(dataset, "SeriesInstanceUID"), "1.2.3.4");
 * assert.equal(tagOfKeyword("Rows"), "x00280010");
 * ```
 *
 * @module
 */

export { type DicomValue, readAttribute, tagOfKeyword } from "./attributes.ts";
export {
  DICTIONARY,
  DICTIONARY_REVISION,
  type DictionaryEntry,
} from "./dictionary.ts";
