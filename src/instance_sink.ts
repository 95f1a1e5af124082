/**
 * The in-memory sink of `retrieve()`, `datasets()` and `getDataset()`: it
 * gathers an instance's bytes as they leave the splitter (capped by
 * `maxDatasetSize`), then joins them into one owned buffer, checks the
 * DICOM file and makes the {@linkcode Rad69Instance}.
 *
 * @module
 */

import { decodeInstance } from "./dicom.ts";
import { InstanceTooLargeError } from "./errors.ts";
import { collectInMemory, type DocumentSink } from "./exchange/transaction.ts";
import { Rad69Instance } from "./instance.ts";
import type { InstanceReference } from "./reference_types.ts";
import type { DocumentResponse } from "./soap/types.ts";

/**
 * Opens the in-memory sink of one instance.
 *
 * @param ref The instance.
 * @param doc Its DocumentResponse.
 * @param cap The most bytes it may hold.
 * @returns The sink; `close` throws `InvalidDicomError` or
 * `SopInstanceMismatchError` for bytes that are not the instance, `write`
 * throws `InstanceTooLargeError` past the cap.
 *
 * @example Gather an instance from two pieces
 * ```ts
 * import assert from "node:assert/strict";
 * import { InstanceTooLargeError } from "@rad69/client";
 * import { syntheticStudy } from "@rad69/client/testing";
 * import { memoryInstanceSink } from "./instance_sink.ts";
 *
 * const [instance] = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * const doc = { documentUniqueId: instance!.instanceUid, repositoryUniqueId: "", mimeType: "application/dicom" };
 * const sink = memoryInstanceSink(instance!, doc, 1 << 20);
 * sink.write(instance!.bytes.subarray(0, 100));
 * sink.write(instance!.bytes.subarray(100));
 * const got = await sink.close([]);
 * assert.deepEqual(got.bytes, instance!.bytes);
 * const small = memoryInstanceSink(instance!, doc, 10);
 * assert.throws(() => small.write(instance!.bytes), InstanceTooLargeError);
 * ```
 */
export function memoryInstanceSink(
  ref: InstanceReference,
  doc: DocumentResponse,
  cap: number,
): DocumentSink<Rad69Instance> {
  const uid = doc.documentUniqueId;
  return collectInMemory(
    cap,
    () => new InstanceTooLargeError(uid, cap, { instance: ref }),
    (bytes, warnings) =>
      new Rad69Instance({
        ref,
        bytes,
        dataset: decodeInstance(bytes, uid, ref),
        warnings,
        repositoryUniqueId: doc.repositoryUniqueId,
        mimeType: doc.mimeType,
      }),
  );
}
