/**
 * The in-memory sink of `retrieve()`, `datasets()` and `getDataset()`: it
 * gathers an instance's bytes as they leave the splitter (capped by
 * `maxDatasetSize`), then joins them into one owned buffer, checks the
 * DICOM file and makes the {@linkcode Rad69Instance}.
 *
 * @module
 */

import { concatBytes } from "./_bytes.ts";
import { decodeInstance } from "./dicom.ts";
import { InstanceTooLargeError } from "./errors.ts";
import type { DocumentSink } from "./exchange/transaction.ts";
import { Rad69Instance } from "./instance.ts";
import type { InstanceReference } from "./reference_types.ts";
import type { DocumentResponse, RegistryError } from "./soap/types.ts";

/**
 * Gathers one instance in memory.
 *
 * @example Gather an instance from two pieces
 * ```ts
 * import assert from "node:assert/strict";
 * import { InstanceTooLargeError } from "@rad69/client";
 * import { syntheticStudy } from "@rad69/client/testing";
 * import { MemoryInstanceSink } from "./instance_sink.ts";
 *
 * const [instance] = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * const doc = { documentUniqueId: instance!.instanceUid, repositoryUniqueId: "", mimeType: "application/dicom" };
 * const sink = new MemoryInstanceSink(instance!, doc, 1 << 20);
 * sink.write(instance!.bytes.subarray(0, 100));
 * sink.write(instance!.bytes.subarray(100));
 * const got = sink.close([]);
 * assert.deepEqual(got.bytes, instance!.bytes);
 * const small = new MemoryInstanceSink(instance!, doc, 10);
 * assert.throws(() => small.write(instance!.bytes), InstanceTooLargeError);
 * ```
 */
export class MemoryInstanceSink implements DocumentSink<Rad69Instance> {
  readonly #ref: InstanceReference;
  readonly #doc: DocumentResponse;
  readonly #cap: number;
  #pieces: Uint8Array[] = [];
  #size = 0;

  /**
   * @param ref The instance.
   * @param doc Its DocumentResponse.
   * @param cap The most bytes it may hold.
   */
  constructor(ref: InstanceReference, doc: DocumentResponse, cap: number) {
    this.#ref = ref;
    this.#doc = doc;
    this.#cap = cap;
  }

  /**
   * Keeps the next bytes.
   *
   * @param bytes A view that stays valid.
   * @throws {InstanceTooLargeError} Over the cap.
   */
  write(bytes: Uint8Array): void {
    this.#size += bytes.length;
    if (this.#size > this.#cap) {
      this.#pieces = [];
      throw new InstanceTooLargeError(this.#doc.documentUniqueId, this.#cap, {
        instance: this.#ref,
      });
    }
    this.#pieces.push(bytes);
  }

  /**
   * Joins the bytes and checks the file.
   *
   * @param warnings The server's warnings about the instance.
   * @returns The instance.
   * @throws {InvalidDicomError} When it is not a DICOM Part-10 file.
   * @throws {SopInstanceMismatchError} When it holds another instance.
   */
  close(warnings: readonly RegistryError[]): Rad69Instance {
    const bytes = concatBytes(this.#pieces, this.#size);
    this.#pieces = [];
    const uid = this.#doc.documentUniqueId;
    return new Rad69Instance({
      ref: this.#ref,
      bytes,
      dataset: decodeInstance(bytes, uid, this.#ref),
      warnings,
      repositoryUniqueId: this.#doc.repositoryUniqueId,
      mimeType: this.#doc.mimeType,
    });
  }

  /** Drops the bytes. */
  abort(): void {
    this.#pieces = [];
  }
}
