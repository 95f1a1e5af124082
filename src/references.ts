/**
 * References to what should be retrieved: instances, or series and studies
 * that carry their instances, and their flattening into instance references.
 *
 * @module
 */

import { InvalidUidError, NonInstanceParameterError } from "./errors.ts";

/**
 * One DICOM instance: the unit RAD-69 retrieves. The SOP Instance UID is the
 * RAD-69 DocumentUniqueId.
 *
 * @example Name an instance, with its own repository
 * ```ts
 * import assert from "node:assert/strict";
 * import { type InstanceReference, toInstanceRefs } from "@rad69/client";
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
 * import { type ChildInstance, toInstanceRefs } from "@rad69/client";
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
 * import { type SeriesReference, toInstanceRefs } from "@rad69/client";
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
 * import { type ChildSeries, toInstanceRefs } from "@rad69/client";
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
 * import { type StudyReference, toInstanceRefs } from "@rad69/client";
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
 * import { type Rad69Reference, toInstanceRefs } from "@rad69/client";
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

const MAX_UID_LENGTH = 64;
const UID_COMPONENT = /^(0|[1-9][0-9]*)$/;

/**
 * Checks a value against the DICOM UID syntax (PS3.5 §9.1).
 *
 * @param uid The value to check.
 * @param where Where the value came from, for the error message.
 * @returns Nothing: it returns only when `uid` is a valid UID string.
 * @throws {InvalidUidError} When the value is not a valid UID.
 *
 * @example Check a UID from user input
 * ```ts
 * import assert from "node:assert/strict";
 * import { assertUid, InvalidUidError } from "@rad69/client";
 *
 * assertUid("1.2.840.10008.1.2.1", "transferSyntaxes[0]");
 * assert.throws(
 *   () => assertUid("1.2.840.10008.1.2.01", "transferSyntaxes[1]"),
 *   InvalidUidError,
 * );
 * ```
 */
export function assertUid(uid: unknown, where: string): asserts uid is string {
  if (typeof uid !== "string") {
    throw new InvalidUidError(String(uid), where, "is not a string");
  }
  if (uid.length === 0) throw new InvalidUidError(uid, where, "is empty");
  if (uid.length > MAX_UID_LENGTH) {
    throw new InvalidUidError(
      uid,
      where,
      `is ${uid.length} characters long (at most ${MAX_UID_LENGTH})`,
    );
  }
  const components = uid.split(".");
  for (let i = 0; i < components.length; i++) {
    const component = components[i]!;
    if (component === "") {
      throw new InvalidUidError(uid, where, `has an empty component ${i + 1}`);
    }
    if (!UID_COMPONENT.test(component)) {
      throw new InvalidUidError(
        uid,
        where,
        /^[0-9]+$/.test(component)
          ? `has a leading zero in component ${i + 1} ("${component}")`
          : `has a character other than a digit or a dot in component ${
            i + 1
          } ("${component}")`,
      );
    }
  }
}

/**
 * Tells whether a value follows the DICOM UID syntax.
 *
 * @param uid The value to test.
 * @returns `true` for a valid UID.
 *
 * @example Test UIDs
 * ```ts
 * import assert from "node:assert/strict";
 * import { isValidUid } from "@rad69/client";
 *
 * assert.ok(isValidUid("1.2.3"));
 * assert.ok(!isValidUid("1.02.3")); // leading zero
 * assert.ok(!isValidUid("1.2.3.")); // empty component
 * ```
 */
export function isValidUid(uid: unknown): boolean {
  try {
    assertUid(uid, "value");
    return true;
  } catch {
    return false;
  }
}

function childToInstance(
  child: ChildInstance | string,
  studyUid: string,
  seriesUid: string,
): InstanceReference {
  if (typeof child === "string") {
    return { studyUid, seriesUid, instanceUid: child };
  }
  const ref: {
    studyUid: string;
    seriesUid: string;
    instanceUid: string;
    repositoryUniqueId?: string;
    homeCommunityId?: string;
  } = { studyUid, seriesUid, instanceUid: child.instanceUid };
  if (child.repositoryUniqueId !== undefined) {
    ref.repositoryUniqueId = child.repositoryUniqueId;
  }
  if (child.homeCommunityId !== undefined) {
    ref.homeCommunityId = child.homeCommunityId;
  }
  return ref;
}

function validateInstance(ref: InstanceReference, where: string): void {
  assertUid(ref.studyUid, `${where}.studyUid`);
  assertUid(ref.seriesUid, `${where}.seriesUid`);
  assertUid(ref.instanceUid, `${where}.instanceUid`);
  if (ref.repositoryUniqueId !== undefined) {
    assertUid(ref.repositoryUniqueId, `${where}.repositoryUniqueId`);
  }
  if (ref.homeCommunityId !== undefined) {
    if (
      typeof ref.homeCommunityId !== "string" ||
      ref.homeCommunityId.trim() === ""
    ) {
      throw new InvalidUidError(
        String(ref.homeCommunityId),
        `${where}.homeCommunityId`,
        "is not a non-empty string",
      );
    }
  }
}

/**
 * Flattens studies, series and instances into a list of instance references,
 * validating every UID. Duplicates are kept once, in first-seen order.
 *
 * @param refs What to retrieve.
 * @returns One reference per distinct instance.
 * @throws {NonInstanceParameterError} When a study or series comes without
 * its instances: RAD-69 retrieves instances only.
 * @throws {InvalidUidError} When a UID does not follow the DICOM UID syntax.
 *
 * @example Flatten a series
 * ```ts
 * import assert from "node:assert/strict";
 * import { toInstanceRefs } from "@rad69/client";
 *
 * const refs = toInstanceRefs([
 *   { studyUid: "1.2", seriesUid: "1.2.3", instances: ["1.2.3.4", "1.2.3.5"] },
 *   { studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" }, // again
 * ]);
 * assert.deepEqual(refs, [
 *   { studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" },
 *   { studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.5" },
 * ]);
 * ```
 */
export function toInstanceRefs(
  refs: Iterable<Rad69Reference>,
): InstanceReference[] {
  if (refs === null || typeof refs !== "object" || !(Symbol.iterator in refs)) {
    throw new TypeError(
      `Cannot read references: expected an iterable, got ${typeof refs}`,
    );
  }
  const out: InstanceReference[] = [];
  const seen = new Set<string>();
  const push = (ref: InstanceReference, where: string) => {
    validateInstance(ref, where);
    if (seen.has(ref.instanceUid)) return;
    seen.add(ref.instanceUid);
    out.push(ref);
  };
  let index = 0;
  for (const ref of refs) {
    const where = `references[${index++}]`;
    if (ref === null || typeof ref !== "object") {
      throw new TypeError(
        `Cannot read reference at ${where}: expected an object, got ${
          ref === null ? "null" : typeof ref
        }`,
      );
    }
    if ("instanceUid" in ref && ref.instanceUid !== undefined) {
      push(ref as InstanceReference, where);
    } else if ("seriesUid" in ref && ref.seriesUid !== undefined) {
      const series = ref as SeriesReference;
      assertUid(series.studyUid, `${where}.studyUid`);
      assertUid(series.seriesUid, `${where}.seriesUid`);
      if (!series.instances || series.instances.length === 0) {
        throw new NonInstanceParameterError(
          `Cannot retrieve series "${series.seriesUid}" at ${where} without its instances: RAD-69 retrieves instances only`,
        );
      }
      series.instances.forEach((child, i) =>
        push(
          childToInstance(child, series.studyUid, series.seriesUid),
          `${where}.instances[${i}]`,
        )
      );
    } else if ("studyUid" in ref && ref.studyUid !== undefined) {
      const study = ref as StudyReference;
      assertUid(study.studyUid, `${where}.studyUid`);
      if (!study.series || study.series.length === 0) {
        throw new NonInstanceParameterError(
          `Cannot retrieve study "${study.studyUid}" at ${where} without its series and instances: RAD-69 retrieves instances only`,
        );
      }
      study.series.forEach((series, s) => {
        const sWhere = `${where}.series[${s}]`;
        assertUid(series.seriesUid, `${sWhere}.seriesUid`);
        if (!series.instances || series.instances.length === 0) {
          throw new NonInstanceParameterError(
            `Cannot retrieve series "${series.seriesUid}" at ${sWhere} without its instances: RAD-69 retrieves instances only`,
          );
        }
        series.instances.forEach((child, i) =>
          push(
            childToInstance(child, study.studyUid, series.seriesUid),
            `${sWhere}.instances[${i}]`,
          )
        );
      });
    } else {
      throw new TypeError(
        `Cannot read reference at ${where}: it has no studyUid, seriesUid or instanceUid`,
      );
    }
  }
  return out;
}
