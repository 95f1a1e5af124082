/**
 * The CLI's lists of instances: `STUDY/SERIES/INSTANCE` arguments and
 * `--instances` files (CSV or a JSON array).
 *
 * @module
 */

import {
  assertUid,
  type InstanceReference,
  isValidUid,
} from "../references.ts";

/**
 * Builds a reference, checking each UID. `where` is a function so that a
 * long list builds no message per line.
 */
function reference(
  study: unknown,
  series: unknown,
  instance: unknown,
  where: string | (() => string),
): InstanceReference {
  const at = typeof where === "string" ? () => where : where;
  if (!isValidUid(study)) assertUid(study, `${at()} (study)`);
  if (!isValidUid(series)) assertUid(series, `${at()} (series)`);
  if (!isValidUid(instance)) assertUid(instance, `${at()} (instance)`);
  return {
    studyUid: study as string,
    seriesUid: series as string,
    instanceUid: instance as string,
  };
}

/**
 * Parses a `STUDY/SERIES/INSTANCE` argument.
 *
 * @param arg The argument.
 * @param where Where it was given, for error messages.
 * @returns The instance reference.
 * @throws {TypeError} When it is not three `/`-separated parts.
 * @throws {InvalidUidError} When a part is not a UID.
 */
export function parseTriplet(arg: string, where: string): InstanceReference {
  const parts = arg.trim().split("/");
  if (parts.length !== 3) {
    throw new TypeError(
      `Invalid instance "${arg}" at ${where}: expected STUDY/SERIES/INSTANCE UIDs`,
    );
  }
  return reference(parts[0], parts[1], parts[2], where);
}

/** Splits one CSV line into trimmed, unquoted fields. */
function csvFields(line: string): string[] {
  return line.split(/[,;\t]/).map((f) => f.trim().replace(/^"(.*)"$/, "$1"))
    .map((f) => f.trim());
}

/** Tells whether a CSV line is a header line: three column names. */
function isHeader(fields: readonly string[]): boolean {
  const names = fields.at(-1) === "" ? fields.slice(0, -1) : fields;
  return names.length === 3 &&
    names.every((f) => /^[A-Za-z][A-Za-z0-9 _.-]*$/.test(f));
}

/** Parses CSV text (see {@linkcode parseInstanceList}). */
function parseCsv(text: string, source: string): InstanceReference[] {
  const out: InstanceReference[] = [];
  let seenData = false;
  const lines = text.split(/\r\n|\n|\r/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = () => `"${source}" line ${index + 1}`;
    const fields = csvFields(line);
    if (!seenData && isHeader(fields)) {
      seenData = true;
      continue;
    }
    seenData = true;
    if (fields.length === 4 && fields[3] === "") fields.pop();
    if (fields.length !== 3) {
      throw new TypeError(
        `Invalid instance list ${where()}: expected 3 fields "study,series,instance", got ${fields.length}`,
      );
    }
    out.push(reference(fields[0], fields[1], fields[2], where));
  }
  return out;
}

/** The first defined string among some keys of a record. */
function pick(record: Record<string, unknown>, keys: readonly string[]) {
  for (const key of keys) if (record[key] !== undefined) return record[key];
  return undefined;
}

/** Parses a JSON array (see {@linkcode parseInstanceList}). */
function parseJson(text: string, source: string): InstanceReference[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new TypeError(
      `Invalid instance list "${source}": not valid JSON (${message})`,
    );
  }
  if (!Array.isArray(data)) {
    throw new TypeError(
      `Invalid instance list "${source}": expected a JSON array of {"study", "series", "instance"} objects`,
    );
  }
  return data.map((item, index) => {
    const where = () => `"${source}" entry ${index + 1}`;
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      throw new TypeError(
        `Invalid instance list ${where()}: expected an object with "study", "series" and "instance"`,
      );
    }
    const record = item as Record<string, unknown>;
    const study = pick(record, ["study", "studyUid", "StudyInstanceUID"]);
    const series = pick(record, ["series", "seriesUid", "SeriesInstanceUID"]);
    const instance = pick(record, [
      "instance",
      "instanceUid",
      "SOPInstanceUID",
    ]);
    if (study === undefined || series === undefined || instance === undefined) {
      throw new TypeError(
        `Invalid instance list ${where()}: expected an object with "study", "series" and "instance"`,
      );
    }
    return reference(study, series, instance, where);
  });
}

/**
 * Parses an instance list: a JSON array of `{ "study", "series", "instance" }`
 * objects (`studyUid`/`seriesUid`/`instanceUid` are accepted too) when the
 * text starts with `[`, else CSV lines `study,series,instance` with an
 * optional header line, blank lines and `#` comments (`;` or tab separators
 * are accepted too).
 *
 * @param text The content.
 * @param source The file name, for error messages.
 * @returns The references, in file order.
 * @throws {TypeError} When a line or entry is malformed (the message names
 * the file and the line or entry).
 * @throws {InvalidUidError} When a UID is invalid (likewise).
 *
 * @example Read a CSV list and a JSON list
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseInstanceList } from "./instance_list.ts";
 *
 * const csv = "study,series,instance\n# a comment\n1.2,1.2.3,1.2.3.4\n";
 * const json = '[{ "study": "1.2", "series": "1.2.3", "instance": "1.2.3.4" }]';
 * const expected = [{ studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" }];
 * assert.deepEqual(parseInstanceList(csv, "list.csv"), expected);
 * assert.deepEqual(parseInstanceList(json, "list.json"), expected);
 * ```
 */
export function parseInstanceList(
  text: string,
  source: string,
): InstanceReference[] {
  const body = text.replace(/^\uFEFF/, "");
  return body.trimStart().startsWith("[")
    ? parseJson(body, source)
    : parseCsv(body, source);
}

/**
 * Reads and parses an instance list file.
 *
 * @param path The file.
 * @returns The references.
 * @throws {TypeError} When the file cannot be read or is malformed.
 * @throws {InvalidUidError} When a UID is invalid.
 * @throws {Deno.errors.NotCapable} Without read permission.
 */
export async function readInstanceList(
  path: string,
): Promise<InstanceReference[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new TypeError(`Cannot read instance list "${path}": ${message}`);
  }
  return parseInstanceList(text, path);
}
