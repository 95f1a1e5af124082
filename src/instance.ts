/**
 * The delivered instance: its reference, its exact bytes and its dataset.
 *
 * @module
 */

import dicomParser from "dicom-parser";
import type { DicomDataSet } from "./dicom.ts";
import type { InstanceReference } from "./references.ts";
import type { RegistryError } from "./soap/types.ts";

/**
 * One DICOM instance delivered by the server.
 *
 * @example
 * ```ts ignore
 * for await (const instance of client.datasets(refs)) {
 *   console.log(instance.ref.instanceUid, instance.bytes.length);
 *   console.log(instance.dataset.string("x00100010")); // Patient's Name
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
   * it is not given.
   *
   * @param init The fields.
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

  /** The dataset parsed by `dicom-parser` (element values read lazily). */
  get dataset(): DicomDataSet {
    this.#dataset ??= dicomParser.parseDicom(this.bytes);
    return this.#dataset;
  }
}
