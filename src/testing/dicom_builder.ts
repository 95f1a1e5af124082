/**
 * Builders of small, valid DICOM Part-10 instances and synthetic studies, for
 * tests and demos.
 *
 * @module
 */

/** Explicit VR Little Endian, the default transfer syntax. */
const EXPLICIT_VR_LE = "1.2.840.10008.1.2.1";
/** Implicit VR Little Endian. */
const IMPLICIT_VR_LE = "1.2.840.10008.1.2";
/** CT Image Storage. */
const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";
/** The implementation class UID written in the File Meta Information. */
const IMPLEMENTATION_CLASS_UID = "1.2.826.0.1.3680043.10.1234.69.1";
/** The implementation version name written in the File Meta Information. */
const IMPLEMENTATION_VERSION = "RAD69_FAKE_1";
/** The default UID root of {@linkcode syntheticStudy}. */
const DEFAULT_ROOT = "1.2.826.0.1.3680043.10.1234";

/**
 * What the pixel data of a built instance contains: `"12bit"` (values
 * 0–4095, a gradient plus seeded noise, like a CT; the default), `"random"`
 * (seeded random bytes, which do not compress) or `"zero"`.
 *
 * @example All-zero pixels
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeInstance } from "@rad69/client";
 * import { buildDicomInstance, type PixelContent } from "@rad69/client/testing";
 *
 * const pixelContent: PixelContent = "zero";
 * const bytes = buildDicomInstance({ instanceUid: "1.2.3", pixelContent });
 * const pixels = decodeInstance(bytes, "1.2.3").elements["x7fe00010"]!;
 * const data = bytes.subarray(pixels.dataOffset, pixels.dataOffset + pixels.length);
 * assert.equal(data.length, 64 * 64 * 2);
 * assert.ok(data.every((b) => b === 0));
 * ```
 */
export type PixelContent = "12bit" | "random" | "zero";

/**
 * Options of {@linkcode buildDicomInstance}.
 *
 * @example An MR image of a named patient
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeInstance } from "@rad69/client";
 * import {
 *   buildDicomInstance,
 *   type DicomInstanceOptions,
 * } from "@rad69/client/testing";
 *
 * const options: DicomInstanceOptions = {
 *   instanceUid: "1.2.3.4.5",
 *   modality: "MR",
 *   patientName: "DOE^JANE",
 *   rows: 32,
 *   columns: 16,
 * };
 * const dataset = decodeInstance(buildDicomInstance(options), "1.2.3.4.5");
 * assert.equal(dataset.string("x00080060"), "MR");
 * assert.equal(dataset.string("x00100010"), "DOE^JANE");
 * assert.equal(dataset.uint16("x00280011"), 16);
 * ```
 */
export interface DicomInstanceOptions {
  /**
   * Study Instance UID (0020,000D).
   *
   * @default {a UID derived from seed}
   */
  studyUid?: string;
  /**
   * Series Instance UID (0020,000E).
   *
   * @default {a UID derived from seed}
   */
  seriesUid?: string;
  /**
   * SOP Instance UID (0008,0018), also the MediaStorageSOPInstanceUID.
   *
   * @default {a UID derived from seed}
   */
  instanceUid?: string;
  /**
   * SOP Class UID (0008,0016), also the MediaStorageSOPClassUID.
   *
   * @default {"1.2.840.10008.5.1.4.1.1.2"} (CT Image Storage)
   */
  sopClassUid?: string;
  /**
   * Transfer Syntax UID (0002,0010). Explicit VR Little Endian
   * (`1.2.840.10008.1.2.1`) and Implicit VR Little Endian
   * (`1.2.840.10008.1.2`) encode native pixel data; any other UID is taken as
   * an encapsulated (compressed) syntax: the dataset stays explicit VR little
   * endian and the pixel bytes become one fragment of encapsulated Pixel Data
   * (structurally valid, not a real codestream).
   *
   * @default {"1.2.840.10008.1.2.1"}
   */
  transferSyntaxUid?: string;
  /**
   * Approximate size of the Pixel Data value in bytes. The image is laid out
   * as rows of at most 512 pixels of 16 bits, so the actual size is rounded up
   * to a whole number of rows (a multiple of 1024 bytes above 1 KiB is kept
   * exactly up to 64 MiB; beyond 65535 rows, 512×512 frames are used).
   * When set, `rows` and `columns` are ignored.
   *
   * @default {rows × columns × 2}
   */
  pixelBytes?: number;
  /**
   * Rows (0028,0010).
   *
   * @default {64}
   */
  rows?: number;
  /**
   * Columns (0028,0011).
   *
   * @default {64}
   */
  columns?: number;
  /**
   * Seed of the deterministic pixel content.
   *
   * @default {a hash of the SOP Instance UID}
   */
  seed?: number;
  /**
   * `"12bit"`: 16-bit little-endian words holding values 0–4095 (a gradient
   * plus seeded noise, like a CT); `"random"`: seeded random bytes (does not
   * compress); `"zero"`: all zero.
   *
   * @default {"12bit"}
   */
  pixelContent?: PixelContent;
  /**
   * Patient's Name (0010,0010).
   *
   * @default {"FAKE^PATIENT"}
   */
  patientName?: string;
  /**
   * Patient ID (0010,0020).
   *
   * @default {"RAD69-FAKE"}
   */
  patientId?: string;
  /**
   * Modality (0008,0060).
   *
   * @default {"CT"}
   */
  modality?: string;
  /**
   * Instance Number (0020,0013).
   *
   * @default {1}
   */
  instanceNumber?: number;
  /**
   * Series Number (0020,0011).
   *
   * @default {1}
   */
  seriesNumber?: number;
}

/**
 * One instance of a {@linkcode syntheticStudy}.
 *
 * @example The UIDs match the bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeInstance } from "@rad69/client";
 * import { type SyntheticInstance, syntheticStudy } from "@rad69/client/testing";
 *
 * const [first]: SyntheticInstance[] = syntheticStudy({ series: 1 });
 * const dataset = decodeInstance(first!.bytes, first!.instanceUid);
 * assert.equal(dataset.string("x0020000d"), first!.studyUid);
 * assert.equal(dataset.string("x0020000e"), first!.seriesUid);
 * ```
 */
export interface SyntheticInstance {
  /** Study Instance UID. */
  readonly studyUid: string;
  /** Series Instance UID. */
  readonly seriesUid: string;
  /** SOP Instance UID. */
  readonly instanceUid: string;
  /** The DICOM Part-10 file. */
  readonly bytes: Uint8Array;
}

/**
 * Options of {@linkcode syntheticStudy}.
 *
 * @example UIDs under your own root
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   syntheticStudy,
 *   type SyntheticStudyOptions,
 * } from "@rad69/client/testing";
 *
 * const options: SyntheticStudyOptions = {
 *   series: 2,
 *   instancesPerSeries: 2,
 *   root: "1.2.3",
 *   seed: 7,
 *   pixelBytes: 1024,
 * };
 * const study = syntheticStudy(options);
 * assert.equal(study.length, 4);
 * assert.equal(study[0]!.studyUid, "1.2.3.7");
 * assert.equal(study[2]!.instanceUid, "1.2.3.7.2.1");
 * ```
 */
export interface SyntheticStudyOptions {
  /**
   * Number of series.
   *
   * @default {2}
   */
  series?: number;
  /**
   * Number of instances in each series.
   *
   * @default {3}
   */
  instancesPerSeries?: number;
  /**
   * The UID root. The study is `<root>.<seed>`, series `s` is
   * `<root>.<seed>.<s>` and instance `i` of it `<root>.<seed>.<s>.<i>`
   * (1-based).
   *
   * @default {"1.2.826.0.1.3680043.10.1234"}
   */
  root?: string;
  /**
   * Distinguishes studies built from the same root; also seeds the pixels.
   *
   * @default {1}
   */
  seed?: number;
  /**
   * Pixel Data size of each instance, see
   * {@linkcode DicomInstanceOptions.pixelBytes}.
   *
   * @default {8192} (64 × 64 × 2)
   */
  pixelBytes?: number;
  /**
   * Pixel content of each instance.
   *
   * @default {"12bit"}
   */
  pixelContent?: PixelContent;
  /**
   * Transfer syntax of each instance.
   *
   * @default {"1.2.840.10008.1.2.1"}
   */
  transferSyntaxUid?: string;
  /**
   * Modality of each instance.
   *
   * @default {"CT"}
   */
  modality?: string;
}

const SHORT_VRS = new Set([
  "AE",
  "AS",
  "AT",
  "CS",
  "DA",
  "DS",
  "DT",
  "FL",
  "FD",
  "IS",
  "LO",
  "LT",
  "PN",
  "SH",
  "SL",
  "SS",
  "ST",
  "TM",
  "UI",
  "UL",
  "US",
]);

const UID_COMPONENT = /^(0|[1-9][0-9]*)$/;

/** Throws a TypeError when `uid` is not a valid DICOM UID. */
function checkUid(uid: string, what: string): void {
  if (
    typeof uid !== "string" || uid.length === 0 || uid.length > 64 ||
    !uid.split(".").every((c) => UID_COMPONENT.test(c))
  ) {
    throw new TypeError(
      `Cannot build DICOM instance: invalid ${what} "${uid}"`,
    );
  }
}

/** A 32-bit FNV-1a hash of a string. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A xorshift32 generator; never returns to zero. */
function xorshift(seed: number): () => number {
  let x = (seed >>> 0) || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** One data element, already encoded. */
interface Encoded {
  tag: number;
  bytes: Uint8Array;
}

const encoder = new TextEncoder();

/** Pads a text value to even length for its VR. */
function padValue(vr: string, value: string): Uint8Array {
  const raw = encoder.encode(value);
  if (raw.length % 2 === 0) return raw;
  const out = new Uint8Array(raw.length + 1);
  out.set(raw);
  out[raw.length] = vr === "UI" ? 0 : 0x20;
  return out;
}

/** Encodes one element header + value. */
function element(
  group: number,
  elem: number,
  vr: string,
  value: Uint8Array,
  explicit: boolean,
  undefinedLength = false,
): Encoded {
  const long = !SHORT_VRS.has(vr);
  const headerLength = explicit ? (long ? 12 : 8) : 8;
  const out = new Uint8Array(
    headerLength + (undefinedLength ? 0 : value.length),
  );
  const view = new DataView(out.buffer);
  view.setUint16(0, group, true);
  view.setUint16(2, elem, true);
  const length = undefinedLength ? 0xffffffff : value.length;
  if (explicit) {
    out[4] = vr.charCodeAt(0);
    out[5] = vr.charCodeAt(1);
    if (long) view.setUint32(8, length, true);
    else view.setUint16(6, length, true);
  } else {
    view.setUint32(4, length, true);
  }
  if (!undefinedLength) out.set(value, headerLength);
  return { tag: ((group << 16) | elem) >>> 0, bytes: out };
}

/** A text element. */
function text(
  group: number,
  elem: number,
  vr: string,
  value: string,
  explicit: boolean,
): Encoded {
  return element(group, elem, vr, padValue(vr, value), explicit);
}

/** A US element. */
function us(
  group: number,
  elem: number,
  value: number,
  explicit: boolean,
): Encoded {
  const v = new Uint8Array(2);
  new DataView(v.buffer).setUint16(0, value, true);
  return element(group, elem, "US", v, explicit);
}

/** Concatenates byte arrays. */
function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Fills `target` with deterministic pixel content. */
function fillPixels(
  target: Uint8Array,
  columns: number,
  content: PixelContent,
  seed: number,
): void {
  if (content === "zero") return;
  const next = xorshift(seed);
  if (content === "random") {
    const words = Math.floor(target.length / 4);
    const view = new DataView(target.buffer, target.byteOffset, target.length);
    for (let i = 0; i < words; i++) view.setUint32(i * 4, next(), true);
    for (let i = words * 4; i < target.length; i++) target[i] = next() & 0xff;
    return;
  }
  const pixels = Math.floor(target.length / 2);
  for (let i = 0; i < pixels; i++) {
    const x = i % columns;
    const y = Math.floor(i / columns);
    const value = ((x * 7 + y * 3) & 0x7ff) + (next() >>> 21); // < 4096
    target[i * 2] = value & 0xff;
    target[i * 2 + 1] = (value >>> 8) & 0x0f;
  }
}

/** Checks a positive integer option. */
function positiveInt(value: number, what: string, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(
      `Cannot build DICOM instance: ${what} must be an integer from 1 to ${max}, got ${value}`,
    );
  }
  return value;
}

/**
 * Builds a valid DICOM Part-10 file: a 128-byte preamble, `DICM`, the File
 * Meta Information group (explicit VR little endian, with its group length),
 * then a CT-like dataset with the given UIDs and deterministic 16-bit pixel
 * data (12 bits stored). UIDs are padded with NUL, other strings with a space,
 * elements are written in ascending tag order.
 *
 * @param options The UIDs, the pixel size and content.
 * @returns The file's bytes.
 * @throws {TypeError} When a UID is not valid.
 * @throws {RangeError} When a size is out of range.
 *
 * @example Build an instance and read it back
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeInstance } from "@rad69/client";
 * import { buildDicomInstance } from "@rad69/client/testing";
 *
 * const bytes = buildDicomInstance({
 *   studyUid: "1.2.3",
 *   seriesUid: "1.2.3.4",
 *   instanceUid: "1.2.3.4.5",
 *   pixelBytes: 4096,
 * });
 * assert.equal(new TextDecoder().decode(bytes.subarray(128, 132)), "DICM");
 * const dataset = decodeInstance(bytes, "1.2.3.4.5");
 * assert.equal(dataset.string("x0020000e"), "1.2.3.4");
 * assert.equal(dataset.elements["x7fe00010"]?.length, 4096);
 * ```
 */
export function buildDicomInstance(
  options: DicomInstanceOptions = {},
): Uint8Array {
  const seedBase = options.seed ?? 1;
  const instanceUid = options.instanceUid ??
    `${DEFAULT_ROOT}.99.${seedBase >>> 0}.1.1`;
  const studyUid = options.studyUid ?? `${DEFAULT_ROOT}.99.${seedBase >>> 0}`;
  const seriesUid = options.seriesUid ??
    `${DEFAULT_ROOT}.99.${seedBase >>> 0}.1`;
  const sopClassUid = options.sopClassUid ?? CT_IMAGE_STORAGE;
  const ts = options.transferSyntaxUid ?? EXPLICIT_VR_LE;
  checkUid(studyUid, "studyUid");
  checkUid(seriesUid, "seriesUid");
  checkUid(instanceUid, "instanceUid");
  checkUid(sopClassUid, "sopClassUid");
  checkUid(ts, "transferSyntaxUid");
  const seed = options.seed ?? hashString(instanceUid);

  let rows: number;
  let columns: number;
  let frames = 1;
  if (options.pixelBytes !== undefined) {
    const bytes = options.pixelBytes;
    if (!Number.isInteger(bytes) || bytes < 2 || bytes > 0x7ffffff0) {
      throw new RangeError(
        `Cannot build DICOM instance: pixelBytes must be an integer from 2 to ${0x7ffffff0}, got ${bytes}`,
      );
    }
    const pixels = Math.ceil(bytes / 2);
    columns = Math.min(512, pixels);
    const totalRows = Math.ceil(pixels / columns);
    if (totalRows <= 65535) {
      rows = totalRows;
    } else {
      rows = 512;
      frames = Math.ceil(totalRows / 512);
    }
  } else {
    rows = positiveInt(options.rows ?? 64, "rows", 65535);
    columns = positiveInt(options.columns ?? 64, "columns", 65535);
  }
  const pixelLength = rows * columns * frames * 2;

  const explicit = ts !== IMPLICIT_VR_LE;
  const encapsulated = ts !== IMPLICIT_VR_LE && ts !== EXPLICIT_VR_LE;

  // File Meta Information (always explicit VR LE).
  const meta: Encoded[] = [
    element(0x0002, 0x0001, "OB", new Uint8Array([0, 1]), true),
    text(0x0002, 0x0002, "UI", sopClassUid, true),
    text(0x0002, 0x0003, "UI", instanceUid, true),
    text(0x0002, 0x0010, "UI", ts, true),
    text(0x0002, 0x0012, "UI", IMPLEMENTATION_CLASS_UID, true),
    text(0x0002, 0x0013, "SH", IMPLEMENTATION_VERSION, true),
  ];
  const metaBody = concat(meta.map((e) => e.bytes));
  const groupLength = new Uint8Array(4);
  new DataView(groupLength.buffer).setUint32(0, metaBody.length, true);

  const ds: Encoded[] = [
    text(0x0008, 0x0005, "CS", "ISO_IR 100", explicit),
    text(0x0008, 0x0016, "UI", sopClassUid, explicit),
    text(0x0008, 0x0018, "UI", instanceUid, explicit),
    text(0x0008, 0x0020, "DA", "20240101", explicit),
    text(0x0008, 0x0030, "TM", "120000", explicit),
    text(0x0008, 0x0060, "CS", options.modality ?? "CT", explicit),
    text(0x0010, 0x0010, "PN", options.patientName ?? "FAKE^PATIENT", explicit),
    text(0x0010, 0x0020, "LO", options.patientId ?? "RAD69-FAKE", explicit),
    text(0x0020, 0x000d, "UI", studyUid, explicit),
    text(0x0020, 0x000e, "UI", seriesUid, explicit),
    text(0x0020, 0x0010, "SH", "1", explicit),
    text(
      0x0020,
      0x0011,
      "IS",
      String(options.seriesNumber ?? 1),
      explicit,
    ),
    text(
      0x0020,
      0x0013,
      "IS",
      String(options.instanceNumber ?? 1),
      explicit,
    ),
    us(0x0028, 0x0002, 1, explicit),
    text(0x0028, 0x0004, "CS", "MONOCHROME2", explicit),
    ...(frames > 1
      ? [text(0x0028, 0x0008, "IS", String(frames), explicit)]
      : []),
    us(0x0028, 0x0010, rows, explicit),
    us(0x0028, 0x0011, columns, explicit),
    us(0x0028, 0x0100, 16, explicit),
    us(0x0028, 0x0101, 12, explicit),
    us(0x0028, 0x0102, 11, explicit),
    us(0x0028, 0x0103, 0, explicit),
  ];
  ds.sort((a, b) => a.tag - b.tag);

  let pixelHeader: Uint8Array;
  let pixelTrailer = new Uint8Array(0);
  if (encapsulated) {
    // OB, undefined length; empty Basic Offset Table item; one fragment.
    pixelHeader = concat([
      element(0x7fe0, 0x0010, "OB", new Uint8Array(0), true, true).bytes,
      itemHeader(0),
      itemHeader(pixelLength),
    ]);
    pixelTrailer = new Uint8Array([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
  } else {
    pixelHeader = element(0x7fe0, 0x0010, "OW", new Uint8Array(0), explicit)
      .bytes;
    const view = new DataView(pixelHeader.buffer);
    if (explicit) view.setUint32(8, pixelLength, true);
    else view.setUint32(4, pixelLength, true);
  }

  const head = concat([
    new Uint8Array(128),
    encoder.encode("DICM"),
    element(0x0002, 0x0000, "UL", groupLength, true).bytes,
    metaBody,
    ...ds.map((e) => e.bytes),
    pixelHeader,
  ]);
  const out = new Uint8Array(head.length + pixelLength + pixelTrailer.length);
  out.set(head);
  fillPixels(
    out.subarray(head.length, head.length + pixelLength),
    columns,
    options.pixelContent ?? "12bit",
    seed,
  );
  out.set(pixelTrailer, head.length + pixelLength);
  return out;
}

/** An item header (FFFE,E000) with a length. */
function itemHeader(length: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint16(0, 0xfffe, true);
  view.setUint16(2, 0xe000, true);
  view.setUint32(4, length, true);
  return out;
}

/**
 * Builds a synthetic study of `series` × `instancesPerSeries` valid DICOM
 * instances with deterministic UIDs under `root` (all at most 64 characters).
 *
 * @param options Counts, UID root, seed and pixel size.
 * @returns The instances, series by series, in instance-number order.
 * @throws {RangeError} When a count is out of range or the UIDs would exceed
 * 64 characters.
 * @throws {TypeError} When `root` is not a valid UID.
 *
 * @example A study of 2 series × 3 instances
 * ```ts
 * import assert from "node:assert/strict";
 * import { syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 2, instancesPerSeries: 3, seed: 7 });
 * assert.equal(study.length, 6);
 * assert.equal(study[0]!.instanceUid, "1.2.826.0.1.3680043.10.1234.7.1.1");
 * assert.equal(study[5]!.seriesUid, "1.2.826.0.1.3680043.10.1234.7.2");
 * ```
 */
export function syntheticStudy(
  options: SyntheticStudyOptions = {},
): SyntheticInstance[] {
  const series = options.series ?? 2;
  const perSeries = options.instancesPerSeries ?? 3;
  if (!Number.isInteger(series) || series < 0 || series > 100_000) {
    throw new RangeError(
      `Cannot build synthetic study: series must be an integer from 0 to 100000, got ${series}`,
    );
  }
  if (!Number.isInteger(perSeries) || perSeries < 0 || perSeries > 1_000_000) {
    throw new RangeError(
      `Cannot build synthetic study: instancesPerSeries must be an integer from 0 to 1000000, got ${perSeries}`,
    );
  }
  const root = options.root ?? DEFAULT_ROOT;
  const seed = options.seed ?? 1;
  if (!Number.isInteger(seed) || seed < 0) {
    throw new RangeError(
      `Cannot build synthetic study: seed must be a non-negative integer, got ${seed}`,
    );
  }
  checkUid(root, "root");
  const studyUid = `${root}.${seed}`;
  const longest = `${studyUid}.${series}.${perSeries}`;
  if (longest.length > 64) {
    throw new RangeError(
      `Cannot build synthetic study: UID "${longest}" would exceed 64 characters`,
    );
  }
  const out: SyntheticInstance[] = [];
  for (let s = 1; s <= series; s++) {
    const seriesUid = `${studyUid}.${s}`;
    for (let i = 1; i <= perSeries; i++) {
      const instanceUid = `${seriesUid}.${i}`;
      const instanceOptions: DicomInstanceOptions = {
        studyUid,
        seriesUid,
        instanceUid,
        seed: hashString(instanceUid) ^ seed,
        seriesNumber: s,
        instanceNumber: i,
        pixelContent: options.pixelContent ?? "12bit",
        modality: options.modality ?? "CT",
      };
      if (options.pixelBytes !== undefined) {
        instanceOptions.pixelBytes = options.pixelBytes;
      }
      if (options.transferSyntaxUid !== undefined) {
        instanceOptions.transferSyntaxUid = options.transferSyntaxUid;
      }
      out.push({
        studyUid,
        seriesUid,
        instanceUid,
        bytes: buildDicomInstance(instanceOptions),
      });
    }
  }
  return out;
}
