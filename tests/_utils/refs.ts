/**
 * Helpers shared by the client tests.
 *
 * @module
 */

import type { InstanceReference } from "../../src/references.ts";
import type { SyntheticInstance } from "../../src/testing/dicom_builder.ts";

/** The instance references of a synthetic study. */
export function refsOf(
  study: readonly SyntheticInstance[],
): InstanceReference[] {
  return study.map(({ studyUid, seriesUid, instanceUid }) => ({
    studyUid,
    seriesUid,
    instanceUid,
  }));
}

/** Collects an async iterable. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Byte-wise equality. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
