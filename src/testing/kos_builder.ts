/**
 * A builder of realistic Key Object Selection (KOS) manifests, as XDS-I.b
 * imaging document sources publish them, for tests and demos.
 *
 * @module
 */

import {
  concat,
  DEFLATED_EXPLICIT_VR_LE,
  type Encoded,
  type Encoding,
  EXPLICIT_VR_BE,
  EXPLICIT_VR_LE,
  IMPLICIT_VR_LE,
  part10,
  sequence,
  syntaxLayout,
  text,
} from "./_dicom_encoding.ts";

/** Key Object Selection Document Storage. */
const KOS_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.88.59";
/** CT Image Storage, the default SOP class of a referenced instance. */
const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";
/** The UID root of generated manifest UIDs. */
const KOS_ROOT = "1.2.826.0.1.3680043.10.1234.88";

/**
 * The transfer syntax of a built manifest: Implicit VR Little Endian,
 * Explicit VR Little Endian, Explicit VR Big Endian, or Deflated Explicit VR
 * Little Endian.
 *
 * @example A deflated manifest
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildKos, type KosTransferSyntax } from "@rad69/client/testing";
 *
 * const transferSyntax: KosTransferSyntax = "deflated";
 * const bytes = buildKos({ transferSyntax, studies: [] });
 * assert.ok(new TextDecoder().decode(bytes).includes("1.2.840.10008.1.2.1.99"));
 * ```
 */
export type KosTransferSyntax =
  | "implicit-le"
  | "explicit-le"
  | "explicit-be"
  | "deflated";

const SYNTAX_UIDS: Readonly<Record<KosTransferSyntax, string>> = {
  "implicit-le": IMPLICIT_VR_LE,
  "explicit-le": EXPLICIT_VR_LE,
  "explicit-be": EXPLICIT_VR_BE,
  "deflated": DEFLATED_EXPLICIT_VR_LE,
};

/**
 * One referenced instance of a {@linkcode KosSeriesOptions}.
 *
 * @example An MR instance
 * ```ts
 * import type { KosInstanceOptions } from "@rad69/client/testing";
 *
 * const instance: KosInstanceOptions = {
 *   instanceUid: "1.2.3.4.5",
 *   sopClassUid: "1.2.840.10008.5.1.4.1.1.4",
 * };
 * void instance;
 * ```
 */
export interface KosInstanceOptions {
  /** Referenced SOP Instance UID (0008,1155). */
  readonly instanceUid: string;
  /**
   * Referenced SOP Class UID (0008,1150).
   *
   * @default {"1.2.840.10008.5.1.4.1.1.2"} (CT Image Storage)
   */
  readonly sopClassUid?: string;
}

/**
 * One series of a {@linkcode KosStudyOptions}.
 *
 * @example A series kept by a known imaging document source
 * ```ts
 * import type { KosSeriesOptions } from "@rad69/client/testing";
 *
 * const series: KosSeriesOptions = {
 *   seriesUid: "1.2.3.4",
 *   repositoryUniqueId: "1.3.6.1.4.1.21367.13.80.110",
 *   retrieveAeTitle: "DCM4CHEE",
 *   instances: [{ instanceUid: "1.2.3.4.5" }],
 * };
 * void series;
 * ```
 */
export interface KosSeriesOptions {
  /** Series Instance UID (0020,000E). */
  readonly seriesUid: string;
  /** Retrieve Location UID (0040,E011); left out when not given. */
  readonly repositoryUniqueId?: string;
  /** Retrieve AE Title (0008,0054); left out when not given. */
  readonly retrieveAeTitle?: string;
  /** Retrieve URL (0008,1190); left out when not given. */
  readonly retrieveUrl?: string;
  /** The Referenced SOP Sequence (0008,1199). */
  readonly instances: readonly KosInstanceOptions[];
}

/**
 * One study of {@linkcode BuildKosOptions}.
 *
 * @example A study of one series
 * ```ts
 * import type { KosStudyOptions } from "@rad69/client/testing";
 *
 * const study: KosStudyOptions = {
 *   studyUid: "1.2.3",
 *   series: [{ seriesUid: "1.2.3.4", instances: [{ instanceUid: "1.2.3.4.5" }] }],
 * };
 * void study;
 * ```
 */
export interface KosStudyOptions {
  /** Study Instance UID (0020,000D). */
  readonly studyUid: string;
  /** The Referenced Series Sequence (0008,1115). */
  readonly series: readonly KosSeriesOptions[];
}

/**
 * Options of {@linkcode buildKos}. Values are written as given, unchecked,
 * so that tests can build broken manifests too (an empty string writes an
 * empty element).
 *
 * @example An implicit VR manifest with undefined lengths
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildKos, type BuildKosOptions } from "@rad69/client/testing";
 *
 * const options: BuildKosOptions = {
 *   transferSyntax: "implicit-le",
 *   undefinedLengths: true,
 *   patientId: "PAT-7",
 *   studies: [{
 *     studyUid: "1.2.3",
 *     series: [{ seriesUid: "1.2.3.4", instances: [{ instanceUid: "1.2.3.4.5" }] }],
 *   }],
 * };
 * assert.equal(new TextDecoder().decode(buildKos(options).subarray(128, 132)), "DICM");
 * ```
 */
export interface BuildKosOptions {
  /** The Current Requested Procedure Evidence Sequence (0040,A375). */
  readonly studies: readonly KosStudyOptions[];
  /**
   * Patient ID (0010,0020).
   *
   * @default {"RAD69-FAKE"}
   */
  readonly patientId?: string;
  /**
   * Patient's Name (0010,0010).
   *
   * @default {"FAKE^PATIENT"}
   */
  readonly patientName?: string;
  /**
   * The transfer syntax.
   *
   * @default {"explicit-le"}
   */
  readonly transferSyntax?: KosTransferSyntax;
  /**
   * Write every sequence and item with undefined length (and delimiters).
   *
   * @default {false}
   */
  readonly undefinedLengths?: boolean;
  /**
   * The manifest's SOP Instance UID (0008,0018 and 0002,0003).
   *
   * @default {a UID derived from the referenced UIDs}
   */
  readonly sopInstanceUid?: string;
  /**
   * SOP Class UID (0008,0016 and 0002,0002); set another one to build a file
   * that is not a KOS.
   *
   * @default {"1.2.840.10008.5.1.4.1.1.88.59"}
   */
  readonly sopClassUid?: string;
}

/** A 32-bit FNV-1a hash of a string. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A code sequence item (Code Value, Coding Scheme Designator, Meaning). */
function code(value: string, scheme: string, meaning: string, enc: Encoding) {
  return [
    text(0x00080100, "SH", value, enc),
    text(0x00080102, "SH", scheme, enc),
    text(0x00080104, "LO", meaning, enc),
  ];
}

/** An element unless the value is undefined. */
function optional(
  tag: number,
  vr: string,
  value: string | undefined,
  enc: Encoding,
): Encoded[] {
  return value === undefined ? [] : [text(tag, vr, value, enc)];
}

/**
 * Builds a Key Object Selection Document (DICOM Part-10): the File Meta
 * Information (with its group length, Media Storage SOP Class and Instance,
 * Transfer Syntax), the patient and study, the Key Object Document series
 * (Modality `KO`), the SR document content (Value Type `CONTAINER`, Concept
 * Name Code `(113030, DCM, "Manifest")`, template 2010, one `IMAGE` content
 * item per instance) and the Current Requested Procedure Evidence Sequence
 * (0040,A375): study > series (Retrieve Location UID, Retrieve AE Title,
 * Retrieve URL) > Referenced SOP Sequence. Deterministic: the same options
 * give the same bytes.
 *
 * @param options The evidence, the transfer syntax and the lengths.
 * @returns The file's bytes.
 *
 * @example Build a manifest and read its references back
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildKos } from "@rad69/client/testing";
 * import { decodeInstance } from "@rad69/client";
 *
 * const bytes = buildKos({
 *   sopInstanceUid: "1.2.3.99",
 *   transferSyntax: "explicit-be",
 *   undefinedLengths: true,
 *   studies: [{
 *     studyUid: "1.2.3",
 *     series: [{
 *       seriesUid: "1.2.3.4",
 *       repositoryUniqueId: "1.3.6.1.4.1.21367.13.80.110",
 *       instances: [{ instanceUid: "1.2.3.4.5" }, { instanceUid: "1.2.3.4.6" }],
 *     }],
 *   }],
 * });
 * const dataset = decodeInstance(bytes, "1.2.3.99");
 * assert.equal(dataset.string("x00080060"), "KO");
 * const study = dataset.elements["x0040a375"]!.items![0]!.dataSet!;
 * const series = study.elements["x00081115"]!.items![0]!.dataSet!;
 * assert.equal(series.string("x0040e011"), "1.3.6.1.4.1.21367.13.80.110");
 * assert.equal(series.elements["x00081199"]!.items!.length, 2);
 * ```
 */
export function buildKos(options: BuildKosOptions): Uint8Array {
  const syntax = options.transferSyntax ?? "explicit-le";
  const transferSyntaxUid = SYNTAX_UIDS[syntax];
  if (transferSyntaxUid === undefined) {
    throw new TypeError(
      `Cannot build KOS: unknown transferSyntax "${syntax}" (use ${
        Object.keys(SYNTAX_UIDS).join(", ")
      })`,
    );
  }
  const enc = syntaxLayout(transferSyntaxUid).encoding;
  const undef = options.undefinedLengths ?? false;
  const sq = (tag: number, items: Encoded[][]) =>
    sequence(tag, items, enc, undef);
  const studies = options.studies;
  const all = studies.flatMap((st) => st.series.flatMap((se) => se.instances));
  // Only the UIDs: instances may be richer objects (with their bytes).
  const id = hash(
    studies.map((st) =>
      `${st.studyUid}:${
        st.series.map((se) =>
          `${se.seriesUid}=${se.instances.map((i) => i.instanceUid).join(",")}`
        ).join(";")
      }`
    ).join("|"),
  );
  const sopInstanceUid = options.sopInstanceUid ?? `${KOS_ROOT}.${id}.1.1`;
  const sopClassUid = options.sopClassUid ?? KOS_SOP_CLASS;

  const evidence = studies.map((study) => [
    text(0x0020000d, "UI", study.studyUid, enc),
    sq(
      0x00081115,
      study.series.map((series) => [
        text(0x0020000e, "UI", series.seriesUid, enc),
        ...optional(0x00080054, "AE", series.retrieveAeTitle, enc),
        ...optional(0x00081190, "UR", series.retrieveUrl, enc),
        ...optional(0x0040e011, "UI", series.repositoryUniqueId, enc),
        sq(0x00081199, series.instances.map((i) => sopRef(i, enc))),
      ]),
    ),
  ]);
  const content = all.map((instance) => [
    text(0x0040a010, "CS", "CONTAINS", enc),
    text(0x0040a040, "CS", "IMAGE", enc),
    sq(0x00081199, [sopRef(instance, enc)]),
  ]);
  const dataset: Encoded[] = [
    text(0x00080005, "CS", "ISO_IR 100", enc),
    text(0x00080016, "UI", sopClassUid, enc),
    text(0x00080018, "UI", sopInstanceUid, enc),
    text(0x00080020, "DA", "20240101", enc),
    text(0x00080023, "DA", "20240101", enc),
    text(0x00080030, "TM", "120000", enc),
    text(0x00080033, "TM", "120000", enc),
    text(0x00080050, "SH", "", enc),
    text(0x00080060, "CS", "KO", enc),
    text(0x00080070, "LO", "RAD69 FAKE", enc),
    text(0x00080090, "PN", "", enc),
    sq(0x00081111, []),
    text(0x00100010, "PN", options.patientName ?? "FAKE^PATIENT", enc),
    text(0x00100020, "LO", options.patientId ?? "RAD69-FAKE", enc),
    text(0x00100030, "DA", "", enc),
    text(0x00100040, "CS", "", enc),
    text(
      0x0020000d,
      "UI",
      studies[0]?.studyUid ?? `${KOS_ROOT}.${id}`,
      enc,
    ),
    text(0x0020000e, "UI", `${KOS_ROOT}.${id}.1`, enc),
    text(0x00200010, "SH", "1", enc),
    text(0x00200011, "IS", "1", enc),
    text(0x00200013, "IS", "1", enc),
    text(0x0040a040, "CS", "CONTAINER", enc),
    sq(0x0040a043, [code("113030", "DCM", "Manifest", enc)]),
    text(0x0040a050, "CS", "SEPARATE", enc),
    sq(0x0040a375, evidence),
    sq(0x0040a504, [[
      text(0x00080105, "CS", "DCMR", enc),
      text(0x0040db00, "CS", "2010", enc),
    ]]),
    sq(0x0040a730, content),
  ];
  dataset.sort((a, b) => a.tag - b.tag);
  return part10(
    { sopClassUid, instanceUid: sopInstanceUid, transferSyntaxUid },
    concat(dataset.map((e) => e.bytes)),
  );
}

/** A Referenced SOP Sequence item. */
function sopRef(instance: KosInstanceOptions, enc: Encoding): Encoded[] {
  return [
    text(0x00081150, "UI", instance.sopClassUid ?? CT_IMAGE_STORAGE, enc),
    text(0x00081155, "UI", instance.instanceUid, enc),
  ];
}
