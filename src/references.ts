/**
 * References to what should be retrieved: instances, or series and studies
 * that carry their instances, and their flattening into instance references.
 *
 * @module
 */

import { InvalidUidError, NonInstanceParameterError } from "./errors.ts";

export type {
  ChildInstance,
  ChildSeries,
  InstanceReference,
  Rad69Reference,
  SeriesReference,
  StudyReference,
} from "./reference_types.ts";
import type {
  ChildInstance,
  InstanceReference,
  Rad69Reference,
  SeriesReference,
  StudyReference,
} from "./reference_types.ts";

const MAX_UID_LENGTH = 64;
const UID_COMPONENT = /^(0|[1-9][0-9]*)$/;
/** A whole valid UID (the length is checked apart). */
const VALID_UID = /^(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*$/;

/** The cheap test of a valid UID, without building a message. */
function isUid(uid: unknown): uid is string {
  return typeof uid === "string" && uid.length <= MAX_UID_LENGTH &&
    VALID_UID.test(uid);
}

/**
 * Checks a UID, naming where it came from only when it is invalid (so that
 * a long list builds no message per reference).
 */
function checkUid(uid: unknown, where: () => string): void {
  if (!isUid(uid)) assertUid(uid, where());
}

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
  if (isUid(uid)) return;
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
 * import { isValidUid } from "./references.ts";
 *
 * assert.ok(isValidUid("1.2.3"));
 * assert.ok(!isValidUid("1.02.3")); // leading zero
 * assert.ok(!isValidUid("1.2.3.")); // empty component
 * ```
 */
export function isValidUid(uid: unknown): boolean {
  return isUid(uid);
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

function validateInstance(ref: InstanceReference, at: () => string): void {
  checkUid(ref.studyUid, () => `${at()}.studyUid`);
  checkUid(ref.seriesUid, () => `${at()}.seriesUid`);
  checkUid(ref.instanceUid, () => `${at()}.instanceUid`);
  if (ref.repositoryUniqueId !== undefined) {
    checkUid(ref.repositoryUniqueId, () => `${at()}.repositoryUniqueId`);
  }
  if (ref.homeCommunityId !== undefined) {
    const where = at();
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
 * import { toInstanceRefs } from "./references.ts";
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
  const push = (ref: InstanceReference, where: () => string) => {
    validateInstance(ref, where);
    if (seen.has(ref.instanceUid)) return;
    seen.add(ref.instanceUid);
    out.push(ref);
  };
  let index = 0;
  for (const ref of refs) {
    const at = index++;
    const where = () => `references[${at}]`;
    if (ref === null || typeof ref !== "object") {
      throw new TypeError(
        `Cannot read reference at ${where()}: expected an object, got ${
          ref === null ? "null" : typeof ref
        }`,
      );
    }
    if ("instanceUid" in ref && ref.instanceUid !== undefined) {
      push(ref as InstanceReference, where);
    } else if ("seriesUid" in ref && ref.seriesUid !== undefined) {
      const series = ref as SeriesReference;
      assertUid(series.studyUid, `${where()}.studyUid`);
      assertUid(series.seriesUid, `${where()}.seriesUid`);
      if (!series.instances || series.instances.length === 0) {
        throw new NonInstanceParameterError(
          `Cannot retrieve series "${series.seriesUid}" at ${where()} without its instances: RAD-69 retrieves instances only`,
        );
      }
      series.instances.forEach((child, i) =>
        push(
          childToInstance(child, series.studyUid, series.seriesUid),
          () => `${where()}.instances[${i}]`,
        )
      );
    } else if ("studyUid" in ref && ref.studyUid !== undefined) {
      const study = ref as StudyReference;
      assertUid(study.studyUid, `${where()}.studyUid`);
      if (!study.series || study.series.length === 0) {
        throw new NonInstanceParameterError(
          `Cannot retrieve study "${study.studyUid}" at ${where()} without its series and instances: RAD-69 retrieves instances only`,
        );
      }
      study.series.forEach((series, s) => {
        const sWhere = `${where()}.series[${s}]`;
        assertUid(series.seriesUid, `${sWhere}.seriesUid`);
        if (!series.instances || series.instances.length === 0) {
          throw new NonInstanceParameterError(
            `Cannot retrieve series "${series.seriesUid}" at ${sWhere} without its instances: RAD-69 retrieves instances only`,
          );
        }
        series.instances.forEach((child, i) =>
          push(
            childToInstance(child, study.studyUid, series.seriesUid),
            () => `${sWhere}.instances[${i}]`,
          )
        );
      });
    } else {
      throw new TypeError(
        `Cannot read reference at ${where()}: it has no studyUid, seriesUid or instanceUid`,
      );
    }
  }
  return out;
}
