/**
 * Keyword access to DICOM attributes, as pydicom offers it
 * (`ds.PatientName`): the keyword is looked up in the data dictionary
 * (PS3.6, `src/dictionary.ts`) and the value read from the lazy
 * `dicom-parser` dataset by its VR.
 *
 * @module
 */

import type { DicomDataSet } from "./dicom.ts";
import { DICTIONARY } from "./dictionary.ts";
import { closestName } from "./suggest.ts";

/**
 * A DICOM value as keyword access returns it: text VRs as a `string` (a
 * `string[]` when there are several values), IS/DS and the binary number
 * VRs as a `number` (`number[]` for several), SQ as the items' datasets,
 * and OB/OW/UN and the other bulk VRs as the raw bytes.
 */
export type DicomValue =
  | string
  | number
  | readonly string[]
  | readonly number[]
  | readonly DicomDataSet[]
  | Uint8Array;

/** Text VRs whose value is never split on backslashes. */
const UNSPLIT_TEXT = new Set(["LT", "ST", "UT", "UR"]);
/** Text VRs. */
const TEXT = new Set([
  "AE",
  "AS",
  "CS",
  "DA",
  "DT",
  "LO",
  "LT",
  "PN",
  "SH",
  "ST",
  "TM",
  "UC",
  "UI",
  "UR",
  "UT",
]);
/** Binary number VRs: reader and size in bytes. */
const BINARY: Record<string, [keyof DicomDataSet, number]> = {
  US: ["uint16", 2],
  SS: ["int16", 2],
  UL: ["uint32", 4],
  SL: ["int32", 4],
  FL: ["float", 4],
  FD: ["double", 8],
};

/**
 * The tag of a keyword, as `dicom-parser` names it (`x00100010`).
 *
 * @param keyword A keyword of PS3.6, e.g. `PatientName`.
 * @returns The tag.
 * @throws {TypeError} For a keyword not in the dictionary; the message
 * suggests the closest one.
 *
 * @example Find the tag of a keyword
 * ```ts
 * import assert from "node:assert/strict";
 * import { tagOfKeyword } from "@rad69/client/dictionary";
 *
 * assert.equal(tagOfKeyword("PatientName"), "x00100010");
 * assert.throws(() => tagOfKeyword("PatientsName"), /did you mean "PatientName"/);
 * ```
 */
export function tagOfKeyword(keyword: string): string {
  const entry = Object.hasOwn(DICTIONARY, keyword)
    ? DICTIONARY[keyword]
    : undefined;
  if (!entry) {
    const suggestion = closestName(keyword, Object.keys(DICTIONARY));
    throw new TypeError(
      `Unknown DICOM keyword "${keyword}"${
        suggestion ? `: did you mean "${suggestion}"?` : ""
      } (keywords are those of PS3.6, e.g. "PatientName", "StudyInstanceUID", "Rows")`,
    );
  }
  return `x${entry[0]}`;
}

/** The VR of an element: the explicit one, else the dictionary's first. */
function vrOf(dataset: DicomDataSet, tag: string, keyword: string): string {
  const explicit = dataset.elements[tag]?.vr;
  if (explicit) return explicit;
  return DICTIONARY[keyword]![1].split("|")[0]!;
}

/**
 * Reads an attribute of a dataset by its keyword (see
 * {@linkcode DicomValue} for the types); `undefined` when the dataset does
 * not have it or it is empty.
 *
 * @param dataset A dataset parsed by `dicom-parser`.
 * @param keyword A keyword of PS3.6, e.g. `PatientName` or `Rows`.
 * @returns The value, or `undefined`.
 * @throws {TypeError} For a keyword not in the dictionary.
 *
 * @example Read attributes by keyword
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeInstance } from "@rad69/client";
 * import { readAttribute } from "@rad69/client/dictionary";
 * import { buildDicomInstance } from "@rad69/client/testing";
 *
 * const bytes = buildDicomInstance({ instanceUid: "1.2.3.4", rows: 16, modality: "MR" });
 * const dataset = decodeInstance(bytes, "1.2.3.4");
 * assert.equal(readAttribute(dataset, "Modality"), "MR");
 * assert.equal(readAttribute(dataset, "Rows"), 16);
 * assert.equal(readAttribute(dataset, "SOPInstanceUID"), "1.2.3.4");
 * assert.equal(readAttribute(dataset, "AccessionNumber"), undefined);
 * ```
 */
export function readAttribute(
  dataset: DicomDataSet,
  keyword: string,
): DicomValue | undefined {
  const tag = tagOfKeyword(keyword);
  const element = dataset.elements[tag];
  if (!element) return undefined;
  if (element.items) return element.items.map((item) => item.dataSet!);
  if (element.length === 0) return undefined;
  const vr = vrOf(dataset, tag, keyword);
  if (TEXT.has(vr) || vr === "IS" || vr === "DS") {
    const text = dataset.string(tag);
    if (text === undefined || text === "") return undefined;
    if (UNSPLIT_TEXT.has(vr)) return text;
    const parts = text.split("\\").map((p) => p.trim());
    if (vr === "IS" || vr === "DS") {
      const numbers = parts.map(Number);
      return numbers.length === 1 ? numbers[0]! : numbers;
    }
    return parts.length === 1 ? parts[0]! : parts;
  }
  const binary = BINARY[vr];
  if (binary) {
    const [method, size] = binary;
    const read = dataset[method] as (tag: string, index?: number) => number;
    const count = Math.floor(element.length / size);
    const values = Array.from(
      { length: count },
      (_, i) => read.call(dataset, tag, i),
    );
    return values.length === 1 ? values[0]! : values;
  }
  if (vr === "AT") {
    const group = dataset.uint16(tag, 0);
    const elementNumber = dataset.uint16(tag, 1);
    return `${hex4(group)}${hex4(elementNumber)}`;
  }
  return dataset.byteArray.subarray(
    element.dataOffset,
    element.dataOffset + element.length,
  );
}

/** Four lowercase hex digits. */
function hex4(n: number | undefined): string {
  return (n ?? 0).toString(16).padStart(4, "0");
}
