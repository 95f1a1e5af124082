/**
 * Decoding and checking of the DICOM instances a server returns.
 *
 * @module
 */

import dicomParser from "dicom-parser";
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

/**
 * Parses DICOM Part-10 bytes and checks that they hold the SOP instance they
 * were returned for.
 *
 * @param bytes The part body.
 * @param documentUniqueId The DocumentUniqueId the bytes came for.
 * @param instance The requested instance, attached to any error.
 * @returns The parsed dataset.
 * @throws {InvalidDicomError} When the bytes are not a DICOM Part-10
 * instance, or hold no SOP Instance UID.
 * @throws {SopInstanceMismatchError} When the SOP Instance UID inside differs
 * from `documentUniqueId`.
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
  let dataset: DicomDataSet;
  try {
    dataset = dicomParser.parseDicom(bytes);
  } catch (cause) {
    const reason = cause instanceof Error
      ? cause.message
      : typeof cause === "string"
      ? cause
      : (cause as { exception?: string })?.exception ?? String(cause);
    throw new InvalidDicomError(documentUniqueId, reason, {
      ...options,
      cause,
    });
  }
  const sop = dataset.string("x00080018") ?? dataset.string("x00020003");
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
