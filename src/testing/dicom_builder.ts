/**
 * Builders of small, valid DICOM Part-10 instances and synthetic studies, for
 * tests and demos.
 *
 * @module
 */

import {
  concat,
  elementHeader,
  type Encoded,
  EXPLICIT_LE,
  EXPLICIT_VR_LE,
  fileMeta,
  ITEM,
  itemTag,
  part10,
  SEQUENCE_DELIMITER,
  swap16,
  syntaxLayout,
  text,
  us,
} from "./_dicom_encoding.ts";

/** CT Image Storage. */
const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";
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
   * Transfer Syntax UID (0002,0010). Implicit VR Little Endian
   * (`1.2.840.10008.1.2`), Explicit VR Little Endian (`1.2.840.10008.1.2.1`),
   * Explicit VR Big Endian (`1.2.840.10008.1.2.2`, 16-bit pixel words in big
   * endian too) and Deflated Explicit VR Little Endian
   * (`1.2.840.10008.1.2.1.99`, the dataset after the File Meta Information
   * deflated) encode native pixel data; any other UID is taken as an
   * encapsulated (compressed) syntax: the dataset stays explicit VR little
   * endian and the pixel bytes become encapsulated Pixel Data: a Basic Offset
   * Table item with each frame's offset, then `fragmentsPerFrame` fragments
   * per frame (structurally valid, not a real codestream).
   *
   * @default {"1.2.840.10008.1.2.1"}
   */
  transferSyntaxUid?: string;
  /**
   * Number of Frames (0028,0008), with `rows` and `columns` (ignored when
   * `pixelBytes` is set).
   *
   * @default {1}
   */
  frames?: number;
  /**
   * With an encapsulated transfer syntax, the number of fragments each frame
   * is cut into (each of even length).
   *
   * @default {1}
   */
  fragmentsPerFrame?: number;
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
    frames = positiveInt(options.frames ?? 1, "frames", 65535);
  }
  const pixelLength = rows * columns * frames * 2;

  const layout = syntaxLayout(ts);
  const enc = layout.encoding;
  const fragmentsPerFrame = layout.encapsulated
    ? positiveInt(
      options.fragmentsPerFrame ?? 1,
      "fragmentsPerFrame",
      (rows * columns * 2) / 2,
    )
    : 1;

  const ds: Encoded[] = [
    text(0x00080005, "CS", "ISO_IR 100", enc),
    text(0x00080016, "UI", sopClassUid, enc),
    text(0x00080018, "UI", instanceUid, enc),
    text(0x00080020, "DA", "20240101", enc),
    text(0x00080030, "TM", "120000", enc),
    text(0x00080060, "CS", options.modality ?? "CT", enc),
    text(0x00100010, "PN", options.patientName ?? "FAKE^PATIENT", enc),
    text(0x00100020, "LO", options.patientId ?? "RAD69-FAKE", enc),
    text(0x0020000d, "UI", studyUid, enc),
    text(0x0020000e, "UI", seriesUid, enc),
    text(0x00200010, "SH", "1", enc),
    text(0x00200011, "IS", String(options.seriesNumber ?? 1), enc),
    text(0x00200013, "IS", String(options.instanceNumber ?? 1), enc),
    us(0x00280002, 1, enc),
    text(0x00280004, "CS", "MONOCHROME2", enc),
    ...(frames > 1 ? [text(0x00280008, "IS", String(frames), enc)] : []),
    us(0x00280010, rows, enc),
    us(0x00280011, columns, enc),
    us(0x00280100, 16, enc),
    us(0x00280101, 12, enc),
    us(0x00280102, 11, enc),
    us(0x00280103, 0, enc),
  ];
  ds.sort((a, b) => a.tag - b.tag);
  const content = options.pixelContent ?? "12bit";
  const uids = { sopClassUid, instanceUid, transferSyntaxUid: ts };
  const elements = concat(ds.map((e) => e.bytes));

  if (layout.encapsulated || layout.deflated) {
    const pixels = new Uint8Array(pixelLength);
    fillPixels(pixels, columns, content, seed);
    const pixelElement = layout.encapsulated
      ? encapsulate(pixels, frames, fragmentsPerFrame)
      : concat([elementHeader(PIXEL_DATA, "OW", pixelLength, enc), pixels]);
    return part10(uids, concat([elements, pixelElement]));
  }
  // Native pixels, not deflated: fill the pixels in place (no copy).
  const head = concat([
    fileMeta(uids),
    elements,
    elementHeader(PIXEL_DATA, "OW", pixelLength, enc),
  ]);
  const out = new Uint8Array(head.length + pixelLength);
  out.set(head);
  const pixels = out.subarray(head.length);
  fillPixels(pixels, columns, content, seed);
  if (!enc.littleEndian) swap16(pixels);
  return out;
}

/** Pixel Data (7FE0,0010). */
const PIXEL_DATA = 0x7fe00010;

/**
 * Encapsulated Pixel Data (OB, undefined length, explicit VR little endian):
 * a Basic Offset Table item holding each frame's offset, then each frame cut
 * into `fragmentsPerFrame` fragments of even length, then the sequence
 * delimiter.
 */
function encapsulate(
  pixels: Uint8Array,
  frames: number,
  fragmentsPerFrame: number,
): Uint8Array {
  const frameLength = pixels.length / frames;
  const fragmentLength = Math.floor(frameLength / 2 / fragmentsPerFrame) * 2;
  const parts: Uint8Array[] = [];
  const offsets = new Uint8Array(frames * 4);
  const offsetView = new DataView(offsets.buffer);
  let offset = 0;
  for (let f = 0; f < frames; f++) {
    offsetView.setUint32(f * 4, offset, true);
    const frame = pixels.subarray(f * frameLength, (f + 1) * frameLength);
    for (let i = 0; i < fragmentsPerFrame; i++) {
      const end = i === fragmentsPerFrame - 1
        ? frame.length
        : (i + 1) * fragmentLength;
      const fragment = frame.subarray(i * fragmentLength, end);
      parts.push(itemTag(ITEM, fragment.length, true), fragment);
      offset += 8 + fragment.length;
    }
  }
  return concat([
    elementHeader(PIXEL_DATA, "OB", undefined, EXPLICIT_LE),
    itemTag(ITEM, offsets.length, true),
    offsets,
    ...parts,
    itemTag(SEQUENCE_DELIMITER, 0, true),
  ]);
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
