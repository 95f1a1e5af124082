/**
 * Lists of instances: `STUDY/SERIES/INSTANCE` arguments and instance list
 * files (CSV or a JSON array), as the CLI's `--instances` reads them.
 *
 * @module
 */

import { InstanceListError } from "./errors.ts";
import { assertUid, type InstanceReference, isValidUid } from "./references.ts";

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
      throw new InstanceListError(
        `Invalid instance list ${where()}: expected 3 fields "study,series,instance", got ${fields.length}`,
        { file: source, line: index + 1 },
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

/** The 1-based line and column of an offset in a text. */
function lineColumn(text: string, offset: number): [number, number] {
  const before = text.slice(0, offset);
  const lines = before.split(/\r\n|\n|\r/);
  return [lines.length, lines.at(-1)!.length + 1];
}

/** Parses JSON text, reporting a syntax error with its line and column. */
function jsonValue(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const at = /at position (\d+)/.exec(message);
    const offset = at
      ? Number(at[1])
      : /Unexpected end of JSON input/.test(message)
      ? text.length
      : undefined;
    const reason = message.replace(/,? in JSON at position \d+.*$/s, "")
      .replace(/ \(line \d+ column \d+\)$/, "");
    if (offset === undefined) {
      throw new InstanceListError(
        `Invalid instance list "${source}": not valid JSON: ${reason}`,
        { file: source, cause: error },
      );
    }
    const [line, column] = lineColumn(text, offset);
    throw new InstanceListError(
      `Invalid instance list "${source}" line ${line} column ${column}: not valid JSON: ${reason}`,
      { file: source, line, column, cause: error },
    );
  }
}

/** Parses a JSON array (see {@linkcode parseInstanceList}). */
function parseJson(text: string, source: string): InstanceReference[] {
  const data = jsonValue(text, source);
  if (!Array.isArray(data)) {
    throw new InstanceListError(
      `Invalid instance list "${source}": expected a JSON array of {"study", "series", "instance"} objects, got ${
        data === null
          ? "null"
          : typeof data === "object"
          ? "an object"
          : typeof data
      }`,
      { file: source },
    );
  }
  return data.map((item, index) => {
    const where = () => `"${source}" entry ${index + 1}`;
    const bad = () =>
      new InstanceListError(
        `Invalid instance list ${where()}: expected an object with "study", "series" and "instance"`,
        { file: source, entry: index + 1 },
      );
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      throw bad();
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
      throw bad();
    }
    return reference(study, series, instance, where);
  });
}

/** Options of {@linkcode parseInstanceList}. */
export interface ParseInstanceListOptions {
  /**
   * The file name the text came from, for error messages.
   *
   * @default {"instance list"}
   */
  file?: string;
}

/**
 * Parses an instance list: a JSON array of `{ "study", "series", "instance" }`
 * objects (`studyUid`/`seriesUid`/`instanceUid` and the DICOM keywords
 * `StudyInstanceUID`/`SeriesInstanceUID`/`SOPInstanceUID` are accepted too)
 * when the first non-blank character is `[` or `{`, else CSV lines
 * `study,series,instance` with an optional header line, blank lines and `#`
 * comments (`;` or tab separators are accepted too). This is the format the
 * `rad69 --instances FILE` command reads.
 *
 * @param text The content.
 * @param options The file name, for error messages.
 * @returns The references, in file order.
 * @throws {InstanceListError} When a line or entry is malformed, or the JSON
 * is broken (the message names the file and the line and column, or the
 * entry).
 * @throws {InvalidUidError} When a UID is invalid (likewise).
 *
 * @example Read a CSV list and a JSON list
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseInstanceList } from "@rad69/client";
 *
 * const csv = "study,series,instance\n# a comment\n1.2,1.2.3,1.2.3.4\n";
 * const json = '[{ "study": "1.2", "series": "1.2.3", "instance": "1.2.3.4" }]';
 * const expected = [{ studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" }];
 * assert.deepEqual(parseInstanceList(csv, { file: "list.csv" }), expected);
 * assert.deepEqual(parseInstanceList(json, { file: "list.json" }), expected);
 * ```
 */
export function parseInstanceList(
  text: string,
  options: ParseInstanceListOptions = {},
): InstanceReference[] {
  const source = options.file ?? "instance list";
  const body = text.replace(/^\uFEFF/, "");
  return /^\s*[[{]/.test(body)
    ? parseJson(body, source)
    : parseCsv(body, source);
}

/**
 * Reads and parses an instance list file (see
 * {@linkcode parseInstanceList}).
 *
 * @param path The file.
 * @returns The references, in file order.
 * @throws {InstanceListError} When the file cannot be read or is malformed
 * (the message names the file and the line or entry).
 * @throws {InvalidUidError} When a UID is invalid.
 * @throws {Deno.errors.NotCapable} Without read permission.
 *
 * @example Read a list the demo or a RIS export wrote
 * ```ts
 * import assert from "node:assert/strict";
 * import { readInstanceList } from "@rad69/client";
 *
 * const file = await Deno.makeTempFile({ suffix: ".csv" });
 * try {
 *   await Deno.writeTextFile(file, "study,series,instance\n1.2,1.2.3,1.2.3.4\n");
 *   const refs = await readInstanceList(file);
 *   assert.deepEqual(refs, [{ studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" }]);
 * } finally {
 *   await Deno.remove(file);
 * }
 * ```
 */
export async function readInstanceList(
  path: string | URL,
): Promise<InstanceReference[]> {
  const name = path instanceof URL ? path.href : path;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new InstanceListError(
      `Cannot read instance list "${name}": ${message}`,
      { file: name, cause: error },
    );
  }
  return parseInstanceList(text, { file: name });
}
