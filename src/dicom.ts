/**
 * Decoding and checking of the DICOM instances a server returns.
 *
 * @module
 */

import dicomParser from "dicom-parser";
import { constants, inflateRawSync } from "node:zlib";
import { InvalidDicomError, SopInstanceMismatchError } from "./errors.ts";
import type { InstanceReference } from "./references.ts";

/**
 * A dataset parsed by `dicom-parser` (elements indexed, values lazy): read
 * values with `string("x00100010")`, `uint16("x00280010")` and the like.
 *
 * @example Read values from a decoded instance
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeInstance, type DicomDataSet } from "@rad69/client";
 * import { buildDicomInstance } from "@rad69/client/testing";
 *
 * const bytes = buildDicomInstance({ instanceUid: "1.2.3.4", rows: 16 });
 * const dataset: DicomDataSet = decodeInstance(bytes, "1.2.3.4");
 * assert.equal(dataset.string("x00080018"), "1.2.3.4");
 * assert.equal(dataset.uint16("x00280010"), 16);
 * ```
 */
export type DicomDataSet = dicomParser.DataSet;

const DICM = [0x44, 0x49, 0x43, 0x4d];

/** Deflated Explicit VR Little Endian. */
export const DEFLATED_EXPLICIT_VR_LE = "1.2.840.10008.1.2.1.99";

/** Options of {@linkcode parsePart10}. */
export interface ParsePart10Options {
  /** Stop parsing at this tag (`xGGGGEEEE`), as `dicom-parser` does. */
  untilTag?: string;
  /**
   * The bytes may be only the head of a file: a deflated dataset is then
   * inflated as far as it goes instead of failing at its cut.
   *
   * @default {false}
   */
  partial?: boolean;
}

/** `dicom-parser`'s DataSet constructor, present at run time but not typed. */
const DataSet = (dicomParser as unknown as {
  DataSet: new (
    parser: dicomParser.ByteArrayParser,
    bytes: Uint8Array,
    elements: Record<string, dicomParser.Element>,
  ) => DicomDataSet;
}).DataSet;

/**
 * Parses DICOM Part-10 bytes with `dicom-parser`, every transfer syntax
 * included: a Deflated Explicit VR Little Endian dataset is inflated here
 * (raw DEFLATE after the File Meta Information), since `dicom-parser`'s own
 * inflate path fails in Deno. The dataset of a deflated file then reads from
 * a copy (File Meta Information + inflated dataset); the bytes given are never
 * changed.
 *
 * @param bytes A Part-10 file.
 * @param options Where to stop, and whether the bytes may be cut short.
 * @returns The dataset, File Meta Information elements included.
 * @throws What `dicom-parser` throws (often a string), or an Error when a
 * deflated dataset cannot be inflated.
 *
 * @example Read a deflated file
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePart10 } from "./dicom.ts";
 * import { buildDicomInstance } from "./testing/dicom_builder.ts";
 *
 * const bytes = buildDicomInstance({
 *   instanceUid: "1.2.3.4",
 *   transferSyntaxUid: "1.2.840.10008.1.2.1.99",
 * });
 * const dataset = parsePart10(bytes);
 * assert.equal(dataset.string("x00080018"), "1.2.3.4");
 * assert.equal(dataset.string("x00020010"), "1.2.840.10008.1.2.1.99");
 * ```
 */
export function parsePart10(
  bytes: Uint8Array,
  options: ParsePart10Options = {},
): DicomDataSet {
  const until = options.untilTag ? { untilTag: options.untilTag } : undefined;
  const meta = dicomParser.readPart10Header(bytes);
  if (meta.string("x00020010") !== DEFLATED_EXPLICIT_VR_LE) {
    return dicomParser.parseDicom(bytes, until);
  }
  const position = (meta as unknown as { position: number }).position;
  let inflated: Uint8Array;
  try {
    inflated = inflateRawSync(
      bytes.subarray(position),
      options.partial ? { finishFlush: constants.Z_SYNC_FLUSH } : {},
    );
  } catch (cause) {
    throw new Error(
      `cannot inflate its Deflated Explicit VR Little Endian dataset: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
  }
  const full = new Uint8Array(position + inflated.length);
  full.set(bytes.subarray(0, position));
  full.set(inflated, position);
  const stream = new dicomParser.ByteStream(
    dicomParser.littleEndianByteArrayParser,
    full,
    position,
  );
  const dataset = new DataSet(stream.byteArrayParser, full, {});
  dataset.warnings = stream.warnings;
  try {
    dicomParser.parseDicomDataSetExplicit(dataset, stream, full.length, until);
  } catch (exception) {
    throw { exception, dataSet: dataset };
  }
  // The File Meta Information elements, read again from the copy.
  const header = dicomParser.readPart10Header(full);
  Object.assign(dataset.elements, header.elements);
  dataset.warnings = [...header.warnings, ...dataset.warnings];
  return dataset;
}

/**
 * The reason in what `dicom-parser` (or {@linkcode parsePart10}) threw: an
 * Error, a string, or `{ exception, dataSet }`.
 *
 * @param cause What was thrown.
 * @returns A one-line reason.
 *
 * @example The reasons of dicom-parser's throws
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFailure } from "./dicom.ts";
 *
 * assert.equal(parseFailure("DICM prefix not found"), "DICM prefix not found");
 * assert.equal(parseFailure({ exception: "buffer overread" }), "buffer overread");
 * assert.equal(parseFailure(new Error("bad")), "bad");
 * ```
 */
export function parseFailure(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  if (typeof cause === "string") return cause;
  const inner = (cause as { exception?: unknown } | null)?.exception;
  return inner !== undefined ? parseFailure(inner) : String(cause);
}

/**
 * Parses DICOM Part-10 bytes and checks that they hold the SOP instance they
 * were returned for. Every transfer syntax is read (a deflated dataset is
 * inflated into a copy; the bytes are never changed). The Media Storage SOP
 * Instance UID (0002,0003) of the File Meta Information, readable whatever
 * the syntax, is checked first, then the dataset's SOP Instance UID
 * (0008,0018).
 *
 * @param bytes The part body.
 * @param documentUniqueId The DocumentUniqueId the bytes came for.
 * @param instance The requested instance, attached to any error.
 * @returns The parsed dataset.
 * @throws {InvalidDicomError} When the bytes are not a DICOM Part-10
 * instance, or hold no SOP Instance UID.
 * @throws {SopInstanceMismatchError} When the SOP Instance UID of the File
 * Meta Information or of the dataset differs from `documentUniqueId`.
 *
 * @example Decode and check a part body
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeInstance, InvalidDicomError } from "@rad69/client";
 * import { buildDicomInstance } from "@rad69/client/testing";
 *
 * const bytes = buildDicomInstance({ instanceUid: "1.2.3.4.5", modality: "MR" });
 * const dataset = decodeInstance(bytes, "1.2.3.4.5");
 * assert.equal(dataset.string("x00080060"), "MR");
 * assert.throws(() => decodeInstance(new Uint8Array(10), "1.2.3"), InvalidDicomError);
 * ```
 */
export function decodeInstance(
  bytes: Uint8Array,
  documentUniqueId: string,
  instance?: InstanceReference,
): DicomDataSet {
  const options = instance ? { instance } : {};
  if (bytes.length < 132) {
    throw new InvalidDicomError(
      documentUniqueId,
      `only ${bytes.length} bytes, too short for a Part-10 file`,
      options,
    );
  }
  for (let i = 0; i < 4; i++) {
    if (bytes[128 + i] !== DICM[i]) {
      throw new InvalidDicomError(
        documentUniqueId,
        `no "DICM" prefix at byte 128 (starts with ${
          JSON.stringify(
            new TextDecoder("latin1").decode(bytes.subarray(0, 24)),
          )
        })`,
        options,
      );
    }
  }
  let metaUid: string | undefined;
  try {
    metaUid = dicomParser.readPart10Header(bytes).string("x00020003");
  } catch {
    metaUid = undefined; // the full parse below says what is wrong
  }
  if (metaUid && metaUid !== documentUniqueId) {
    throw new SopInstanceMismatchError(documentUniqueId, metaUid, options);
  }
  let dataset: DicomDataSet;
  try {
    dataset = parsePart10(bytes);
  } catch (cause) {
    throw new InvalidDicomError(documentUniqueId, parseFailure(cause), {
      ...options,
      cause,
    });
  }
  const sop = dataset.string("x00080018") ?? metaUid;
  if (!sop) {
    throw new InvalidDicomError(
      documentUniqueId,
      "it has no SOP Instance UID (0008,0018)",
      options,
    );
  }
  if (sop !== documentUniqueId) {
    throw new SopInstanceMismatchError(documentUniqueId, sop, options);
  }
  return dataset;
}
