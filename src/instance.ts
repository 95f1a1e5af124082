/**
 * The delivered instance: its reference, its exact bytes and its dataset.
 *
 * @module
 */

import { type DicomValue, readAttribute } from "./attributes.ts";
import { type DicomDataSet, parsePart10 } from "./dicom.ts";
import type { InstanceReference } from "./references.ts";
import type { RegistryError } from "./soap/types.ts";

/**
 * One DICOM instance delivered by the server: the reference it was asked
 * for, its exact bytes, and its dataset (parsed by `dicom-parser` on first
 * access).
 *
 * @example Read the tags of delivered instances
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * const client = new Rad69Client({ url: server.url });
 * for await (const instance of client.datasets(study)) {
 *   assert.equal(instance.dataset.string("x00100010"), "FAKE^PATIENT"); // Patient's Name
 *   assert.equal(instance.dataset.string("x00080018"), instance.ref.instanceUid);
 *   assert.ok(instance.bytes.length > 132); // a whole Part-10 file
 * }
 * ```
 */
export class Rad69Instance {
  /** The instance that was requested. */
  readonly ref: InstanceReference;
  /** The exact bytes the server sent (a DICOM Part-10 file). */
  readonly bytes: Uint8Array;
  /** Warnings the server reported for this instance (or for the request). */
  readonly warnings: readonly RegistryError[];
  /** The RepositoryUniqueId the server answered with, or "". */
  readonly repositoryUniqueId: string;
  /** The mimeType the server declared, or "". */
  readonly mimeType: string;
  #dataset: DicomDataSet | undefined;

  /**
   * Creates an instance record. The dataset is parsed on first access when
   * it is not given. The client creates these; build one yourself to feed
   * code that takes instances.
   *
   * @param init The fields: `ref`, `bytes`, and optionally the parsed
   * `dataset`, `warnings`, `repositoryUniqueId` and `mimeType`.
   *
   * @example Wrap bytes read from disk
   * ```ts
   * import assert from "node:assert/strict";
   * import { Rad69Instance } from "@rad69/client";
   * import { buildDicomInstance } from "@rad69/client/testing";
   *
   * const ref = { studyUid: "1.2.3", seriesUid: "1.2.3.4", instanceUid: "1.2.3.4.5" };
   * const instance = new Rad69Instance({ ref, bytes: buildDicomInstance(ref) });
   * assert.equal(instance.dataset.string("x0020000e"), "1.2.3.4");
   * assert.deepEqual(instance.warnings, []);
   * ```
   */
  constructor(init: {
    ref: InstanceReference;
    bytes: Uint8Array;
    dataset?: DicomDataSet;
    warnings?: readonly RegistryError[];
    repositoryUniqueId?: string;
    mimeType?: string;
  }) {
    this.ref = init.ref;
    this.bytes = init.bytes;
    this.#dataset = init.dataset;
    this.warnings = init.warnings ?? [];
    this.repositoryUniqueId = init.repositoryUniqueId ?? "";
    this.mimeType = init.mimeType ?? "";
  }

  /**
   * The dataset parsed by `dicom-parser` (element values read lazily), in
   * any transfer syntax: a deflated dataset is read from an inflated copy.
   */
  get dataset(): DicomDataSet {
    this.#dataset ??= parsePart10(this.bytes);
    return this.#dataset;
  }

  /**
   * An attribute by its DICOM keyword (PS3.6), as pydicom's
   * `ds.PatientName`: text as a string, IS/DS and binary numbers as
   * numbers, several values as an array, sequences as their items'
   * datasets, bulk data as bytes; `undefined` when absent or empty. Read
   * from {@linkcode Rad69Instance.dataset}, so nothing is parsed twice.
   *
   * @param keyword A keyword, e.g. `PatientName`, `StudyInstanceUID`,
   * `Modality`, `Rows`.
   * @returns The value, or `undefined`.
   * @throws {TypeError} For a keyword not in the dictionary (the message
   * suggests the closest one).
   *
   * @example Read attributes by keyword
   * ```ts
   * import assert from "node:assert/strict";
   * import { Rad69Client } from "@rad69/client";
   * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
   *
   * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
   * await using server = await FakeRad69Server.start({ instances: study });
   * const client = new Rad69Client({ url: server.url });
   * for await (const instance of client.datasets(study)) {
   *   assert.equal(instance.get("PatientName"), "FAKE^PATIENT");
   *   assert.equal(instance.get("StudyInstanceUID"), instance.ref.studyUid);
   *   assert.equal(instance.get("Modality"), "CT");
   *   assert.equal(instance.get("Rows"), 64);
   * }
   * ```
   */
  get(keyword: string): DicomValue | undefined {
    return readAttribute(this.dataset, keyword);
  }
}
