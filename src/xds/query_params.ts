/**
 * The values of registry stored query parameters (ITI TF-2a 3.18.4.1.2.3):
 * the patient id as an XDS CX, times as DTM, codes in the abbreviated CE
 * form, each checked and quoted the ebRS way. Used by the ITI-18 / ITI-38
 * request builder; nothing here knows about SOAP.
 *
 * @module
 */

import { InvalidQueryParameterError } from "../errors.ts";

/**
 * A coded value of an XDS metadata attribute (formatCode, classCode,
 * typeCode): the code and its coding scheme.
 *
 * @example The format code of a KOS manifest
 * ```ts
 * import assert from "node:assert/strict";
 * import { KOS_FORMAT_CODE, type XdsCode } from "./iti18.ts";
 *
 * const kos: XdsCode = KOS_FORMAT_CODE;
 * assert.equal(kos.code, "1.2.840.10008.5.1.4.1.1.88.59");
 * ```
 */
export interface XdsCode {
  /** The code (`nodeRepresentation` of the Classification). */
  readonly code: string;
  /** The coding scheme (the Classification's `codingScheme` slot). */
  readonly scheme: string;
  /** The display name, when the registry sent one. */
  readonly displayName?: string;
}

/** An ISO OID: arcs of digits without leading zeros. */
const OID_RE = /^[0-2](\.(0|[1-9][0-9]*))+$/;
/** HL7 v2 delimiters that cannot appear unescaped in a CX ID. */
const HL7_DELIMITERS = /[&~|\\^]/;
/** A DTM of the precisions XDS allows: YYYY[MM[DD[hh[mm[ss]]]]]. */
const DTM_RE = /^[0-9]{4}(?:[0-9]{2}){0,5}$/;
/** An ISO calendar date, taken as the DTM YYYYMMDD. */
const ISO_DATE_RE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;

/**
 * Checks that a value is an XDS patient id: an HL7 v2 CX with only the ID
 * and the assigning authority, the latter an ISO OID
 * (`ID^^^&1.2.3.4&ISO`).
 *
 * @param value The value.
 * @param where Where it was given, for the message (`query.patientId`).
 * @throws {InvalidQueryParameterError} Naming what is wrong: an empty ID,
 * no assigning authority, an OID that is not one, a type other than "ISO".
 *
 * @example Check a patient id before querying
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidQueryParameterError } from "@rad69/client";
 * import { assertPatientCx } from "./iti18.ts";
 *
 * assertPatientCx("PID-1^^^&1.3.6.1.4.1.21367.2005.13.20.1000&ISO", "id");
 * assert.throws(
 *   () => assertPatientCx("PID-1^^^&1.2.3&L", "id"),
 *   (e) => e instanceof InvalidQueryParameterError && /"ISO"/.test(e.message),
 * );
 * ```
 */
export function assertPatientCx(
  value: unknown,
  where: string,
): asserts value is string {
  if (typeof value !== "string") {
    throw new InvalidQueryParameterError(
      String(value),
      where,
      `is a ${typeof value}, not a patient id (expected ID^^^&OID&ISO)`,
    );
  }
  const fail = (reason: string) =>
    new InvalidQueryParameterError(value, where, reason);
  if (value.trim() !== value) {
    throw fail("has leading or trailing white space");
  }
  const components = value.split("^");
  const id = components[0]!;
  if (id === "") throw fail("has an empty ID (expected ID^^^&OID&ISO)");
  if (/[&~|\\]/.test(id)) {
    throw fail(`has an HL7 delimiter in its ID "${id}"`);
  }
  if (components.length < 4 || components[3] === "") {
    throw fail("has no assigning authority (expected ID^^^&OID&ISO)");
  }
  if (components.length > 4) {
    throw fail("has components after the assigning authority");
  }
  if (components[1] !== "" || components[2] !== "") {
    throw fail("has a check digit; components 2 and 3 must be empty");
  }
  const authority = components[3]!.split("&");
  if (authority.length !== 3) {
    throw fail(
      `has the assigning authority "${
        components[3]
      }", expected &OID&ISO (three sub-components)`,
    );
  }
  const [, oid, type] = authority as [string, string, string];
  if (!OID_RE.test(oid)) {
    throw fail(
      `has the assigning authority OID "${oid}", which is not an OID (digits and dots)`,
    );
  }
  if (type !== "ISO") {
    throw fail(`has the assigning authority type "${type}", expected "ISO"`);
  }
}

/**
 * Quotes one string value the ebRS way: in single quotes, a single quote
 * inside doubled.
 *
 * @param value The value.
 * @returns `'value'`.
 */
export function quoteSlotValue(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * A list value: `('a','b')`.
 *
 * @param values The values.
 * @returns The quoted list.
 */
export function quoteSlotList(values: readonly string[]): string {
  return `(${values.map(quoteSlotValue).join(",")})`;
}

/**
 * Encodes codes in the abbreviated CE form of ITI TF-2a 3.18.4.1.2.3.4
 * (`code^^scheme`), checked.
 *
 * @param codes The codes.
 * @param where Where they were given, for messages.
 * @returns The encoded codes.
 * @throws {InvalidQueryParameterError} When a code or its scheme is
 * missing, or holds a `^`.
 */
export function encodeCodes(
  codes: unknown,
  where: string,
): string[] {
  if (!Array.isArray(codes)) {
    throw new InvalidQueryParameterError(
      String(codes),
      where,
      "is not an array of { code, scheme }",
    );
  }
  return codes.map((c: unknown, i) => {
    const at = `${where}[${i}]`;
    const item = (c ?? {}) as { code?: unknown; scheme?: unknown };
    for (const key of ["code", "scheme"] as const) {
      const v = item[key];
      if (typeof v !== "string" || v.trim() === "") {
        throw new InvalidQueryParameterError(
          String(v),
          `${at}.${key}`,
          "is not a non-empty string",
        );
      }
      if (HL7_DELIMITERS.test(v)) {
        throw new InvalidQueryParameterError(
          v,
          `${at}.${key}`,
          "holds an HL7 delimiter (^ & ~ | \\)",
        );
      }
    }
    return `${item.code}^^${item.scheme}`;
  });
}

/**
 * Converts a time to the DTM of a time parameter: a `Date` becomes UTC
 * `YYYYMMDDhhmmss`, an ISO date `YYYY-MM-DD` becomes `YYYYMMDD`, a DTM
 * (`YYYY[MM[DD[hh[mm[ss]]]]]`) is kept.
 *
 * @param value The time.
 * @param where Where it was given, for messages.
 * @returns The DTM.
 * @throws {InvalidQueryParameterError} When it is none of those.
 */
export function toDtm(value: unknown, where: string): string {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) {
      throw new InvalidQueryParameterError(
        "Invalid Date",
        where,
        "is an invalid Date",
      );
    }
    return value.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  }
  if (typeof value === "string") {
    const iso = ISO_DATE_RE.exec(value);
    const dtm = iso ? `${iso[1]}${iso[2]}${iso[3]}` : value;
    if (DTM_RE.test(dtm) && validFields(dtm)) return dtm;
  }
  throw new InvalidQueryParameterError(
    String(value),
    where,
    "is not a time (a Date, YYYY-MM-DD, or a DTM YYYY[MM[DD[hh[mm[ss]]]]])",
  );
}

/** Whether the fields of a DTM are in range (month 1-12, hour 0-23, …). */
function validFields(dtm: string): boolean {
  const field = (at: number) => Number(dtm.slice(at, at + 2));
  const limits: [number, number, number][] = [
    [4, 1, 12],
    [6, 1, 31],
    [8, 0, 23],
    [10, 0, 59],
    [12, 0, 59],
  ];
  return limits.every(([at, min, max]) =>
    dtm.length <= at || (field(at) >= min && field(at) <= max)
  );
}

/**
 * A DTM padded with zeros to 14 digits, for comparing times of different
 * precisions.
 *
 * @param dtm The DTM.
 * @returns `YYYYMMDDhhmmss`.
 */
export function padDtm(dtm: string): string {
  return dtm.padEnd(14, "0");
}
