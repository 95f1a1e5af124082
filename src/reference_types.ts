/**
 * The shapes of references to what should be retrieved (instances, series,
 * studies). Types only, so that errors can name an instance without
 * importing the validation code.
 *
 * @module
 */

/**
 * One DICOM instance: the unit RAD-69 retrieves. The SOP Instance UID is the
 * RAD-69 DocumentUniqueId.
 *
 * @example Name an instance, with its own repository
 * ```ts
 * import assert from "node:assert/strict";
 * import { type InstanceReference } from "@rad69/client";
 * import { toInstanceRefs } from "./references.ts";
 *
 * const ref: InstanceReference = {
 *   studyUid: "1.2.3",
 *   seriesUid: "1.2.3.4",
 *   instanceUid: "1.2.3.4.5",
 *   repositoryUniqueId: "1.2.840.99.1",
 * };
 * assert.deepEqual(toInstanceRefs([ref]), [ref]);
 * ```
 */
export interface InstanceReference {
  /** Study Instance UID (0020,000D). */
  readonly studyUid: string;
  /** Series Instance UID (0020,000E). */
  readonly seriesUid: string;
  /** SOP Instance UID (0008,0018), sent as the DocumentUniqueId. */
  readonly instanceUid: string;
  /**
   * RepositoryUniqueId for this instance; overrides the client-wide one
   * (a gateway can front several repositories).
   */
  readonly repositoryUniqueId?: string;
  /** HomeCommunityId for this instance; overrides the client-wide one. */
  readonly homeCommunityId?: string;
}

/**
 * An instance given inside a {@linkcode SeriesReference}.
 *
 * @example An instance kept in another repository
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ChildInstance } from "@rad69/client";
 * import { toInstanceRefs } from "./references.ts";
 *
 * const archived: ChildInstance = {
 *   instanceUid: "1.2.3.4.6",
 *   repositoryUniqueId: "1.2.840.99.2",
 * };
 * const refs = toInstanceRefs([
 *   { studyUid: "1.2.3", seriesUid: "1.2.3.4", instances: ["1.2.3.4.5", archived] },
 * ]);
 * assert.equal(refs[0]!.repositoryUniqueId, undefined);
 * assert.equal(refs[1]!.repositoryUniqueId, "1.2.840.99.2");
 * ```
 */
export interface ChildInstance {
  /** SOP Instance UID. */
  readonly instanceUid: string;
  /** RepositoryUniqueId for this instance (overrides the client-wide one). */
  readonly repositoryUniqueId?: string;
  /** HomeCommunityId for this instance (overrides the client-wide one). */
  readonly homeCommunityId?: string;
}

/**
 * A series and, to be retrievable over RAD-69, its instances (given as SOP
 * Instance UIDs, or as {@linkcode ChildInstance}s).
 *
 * @example A series of two instances
 * ```ts
 * import assert from "node:assert/strict";
 * import { type SeriesReference } from "@rad69/client";
 * import { toInstanceRefs } from "./references.ts";
 *
 * const series: SeriesReference = {
 *   studyUid: "1.2.3",
 *   seriesUid: "1.2.3.4",
 *   instances: ["1.2.3.4.5", { instanceUid: "1.2.3.4.6" }],
 * };
 * assert.equal(toInstanceRefs([series]).length, 2);
 * ```
 */
export interface SeriesReference {
  /** Study Instance UID. */
  readonly studyUid: string;
  /** Series Instance UID. */
  readonly seriesUid: string;
  /** The instances of the series to retrieve. Required for RAD-69. */
  readonly instances?: readonly (ChildInstance | string)[];
}

/**
 * A series given inside a {@linkcode StudyReference}.
 *
 * @example Series of a study
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ChildSeries } from "@rad69/client";
 * import { toInstanceRefs } from "./references.ts";
 *
 * const series: ChildSeries[] = [
 *   { seriesUid: "1.2.3.1", instances: ["1.2.3.1.1"] },
 *   { seriesUid: "1.2.3.2", instances: [{ instanceUid: "1.2.3.2.1" }] },
 * ];
 * const refs = toInstanceRefs([{ studyUid: "1.2.3", series }]);
 * assert.deepEqual(refs.map((r) => r.seriesUid), ["1.2.3.1", "1.2.3.2"]);
 * ```
 */
export interface ChildSeries {
  /** Series Instance UID. */
  readonly seriesUid: string;
  /** The instances of the series to retrieve. Required for RAD-69. */
  readonly instances?: readonly (ChildInstance | string)[];
}

/**
 * A study and, to be retrievable over RAD-69, its series and instances.
 *
 * @example A study of two series
 * ```ts
 * import assert from "node:assert/strict";
 * import { type StudyReference } from "@rad69/client";
 * import { toInstanceRefs } from "./references.ts";
 *
 * const study: StudyReference = {
 *   studyUid: "1.2.3",
 *   series: [
 *     { seriesUid: "1.2.3.1", instances: ["1.2.3.1.1", "1.2.3.1.2"] },
 *     { seriesUid: "1.2.3.2", instances: ["1.2.3.2.1"] },
 *   ],
 * };
 * assert.equal(toInstanceRefs([study]).length, 3);
 * ```
 */
export interface StudyReference {
  /** Study Instance UID. */
  readonly studyUid: string;
  /** The series of the study to retrieve. Required for RAD-69. */
  readonly series?: readonly ChildSeries[];
}

/**
 * Anything that can be asked for: an instance, a series or a study.
 *
 * @example Mix instances, series and studies
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Rad69Reference } from "@rad69/client";
 * import { toInstanceRefs } from "./references.ts";
 *
 * const wanted: Rad69Reference[] = [
 *   { studyUid: "1.2", seriesUid: "1.2.1", instanceUid: "1.2.1.1" },
 *   { studyUid: "1.2", seriesUid: "1.2.1", instances: ["1.2.1.2"] },
 *   { studyUid: "1.3", series: [{ seriesUid: "1.3.1", instances: ["1.3.1.1"] }] },
 * ];
 * const refs = toInstanceRefs(wanted);
 * assert.deepEqual(refs.map((r) => r.instanceUid), [
 *   "1.2.1.1",
 *   "1.2.1.2",
 *   "1.3.1.1",
 * ]);
 * ```
 */
export type Rad69Reference =
  | InstanceReference
  | SeriesReference
  | StudyReference;
