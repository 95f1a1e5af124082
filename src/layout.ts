/**
 * Download layouts: where in the download folder each instance's file goes
 * when the default `<study>/<series>/<instance>.dcm` is not what a pipeline
 * expects. A layout is a function of the instance (its reference and its
 * attributes by keyword) returning path components; a template such as
 * `{PatientID}/{StudyDate}_{StudyInstanceUID}/{SOPInstanceUID}.dcm` compiles
 * to one. Names derived from data are sanitised, and two instances never
 * share a path silently.
 *
 * @module
 */

import { join } from "node:path";
import type { DicomValue } from "./attributes.ts";
import { DICTIONARY } from "./dictionary.ts";
import { LayoutError } from "./errors.ts";
import type { InstanceReference } from "./reference_types.ts";
import { tagOfKeyword } from "./attributes.ts";

/**
 * What a layout sees of an instance: its reference and its attributes by
 * keyword (a {@linkcode Rad69Instance} is one).
 */
export interface LayoutInstance {
  /** The instance that was requested. */
  readonly ref: InstanceReference;
  /** An attribute by its DICOM keyword, e.g. `get("PatientID")`. */
  get(keyword: string): DicomValue | undefined;
}

/**
 * A download layout: the path of an instance's file inside the download
 * folder, as components (folders, then the file name). Each component is
 * sanitised ({@linkcode sanitizePathComponent}) before use.
 *
 * @example Patient, then study date, then the SOP Instance UID
 * ```ts
 * import assert from "node:assert/strict";
 * import { type DownloadLayout, Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const layout: DownloadLayout = (instance) => [
 *   String(instance.get("PatientID") ?? "unknown"),
 *   `${instance.get("Modality")}_${instance.ref.seriesUid}`,
 *   `${instance.ref.instanceUid}.dcm`,
 * ];
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * using client = new Rad69Client({ url: server.url });
 * const dir = await Deno.makeTempDir();
 * try {
 *   const report = await client.download(study, dir, { layout });
 *   assert.equal(report.delivered, 2);
 *   const first = report.entries[0]!;
 *   assert.ok(first.path.startsWith(dir));
 *   assert.match(first.path, /CT_[0-9.]+\/[0-9.]+\.dcm$/);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export type DownloadLayout = (instance: LayoutInstance) => readonly string[];

/** Characters never allowed in a name: separators, reserved, control. */
// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f/\\:*?"<>|]/g;
/** The longest component, in UTF-16 code units (file systems allow 255 bytes). */
const MAX_COMPONENT = 120;

/**
 * Makes a string safe as one file or folder name: path separators,
 * characters Windows reserves (`: * ? " < > |`) and control characters
 * become `_`, runs of dots become `_` (so no `..`), surrounding spaces and
 * trailing dots go, an empty result is `_`, and long names are cut.
 *
 * @param value The name, e.g. a Patient ID.
 * @returns A name that is one path component and nothing else.
 *
 * @example Names from untrusted data
 * ```ts
 * import assert from "node:assert/strict";
 * import { sanitizePathComponent } from "@rad69/client";
 *
 * assert.equal(sanitizePathComponent("../../etc"), "____etc"); // one name, no ".."
 * assert.equal(sanitizePathComponent("DOE^JOHN"), "DOE^JOHN");
 * assert.equal(sanitizePathComponent("a\u0000b"), "a_b");
 * assert.equal(sanitizePathComponent(""), "_");
 * ```
 */
export function sanitizePathComponent(value: string): string {
  let name = value.replace(UNSAFE, "_").replace(/\.{2,}/g, "_").trim()
    .replace(/[. ]+$/, "");
  if (name.length > MAX_COMPONENT) name = name.slice(0, MAX_COMPONENT);
  return name === "" || name === "." ? "_" : name;
}

/** A value as text for a file name: several values joined with `_`. */
function valueText(value: DicomValue | undefined): string {
  if (value === undefined) return "";
  if (typeof value === "string" || typeof value === "number") {
    return String(value);
  }
  if (value instanceof Uint8Array) return "";
  return (value as readonly unknown[]).map(String).join("_");
}

/** VRs a template may not use (sequences and bulk data). */
const NOT_IN_TEMPLATES = /^(SQ|OB|OW|OF|OD|OL|OV|UN)/;

/** One part of a template component: text, or a keyword with its padding. */
type TemplatePart = string | { keyword: string; width: number };

/** Parses one component of a template. */
function parseComponent(component: string, template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  const re = /\{([^{}]*)\}/g;
  let at = 0;
  for (const match of component.matchAll(re)) {
    parts.push(component.slice(at, match.index));
    const [keyword = "", format] = match[1]!.split(":");
    tagOfKeyword(keyword.trim()); // throws with a suggestion
    const vr = DICTIONARY[keyword.trim()]![1];
    if (NOT_IN_TEMPLATES.test(vr)) {
      throw new TypeError(
        `Invalid layout template "${template}": {${keyword}} is ${vr} data, not a value for a name`,
      );
    }
    if (format !== undefined && !/^0\d{1,2}$/.test(format)) {
      throw new TypeError(
        `Invalid layout template "${template}": "{${
          match[1]
        }}" has an unknown format (only a zero-padded width such as {InstanceNumber:05})`,
      );
    }
    parts.push({
      keyword: keyword.trim(),
      width: format === undefined ? 0 : Number(format),
    });
    at = match.index + match[0].length;
  }
  const rest = component.slice(at);
  if (
    /[{}]/.test(rest) ||
    parts.some((p) => typeof p === "string" && /[{}]/.test(p))
  ) {
    throw new TypeError(
      `Invalid layout template "${template}": unbalanced "{" or "}"`,
    );
  }
  parts.push(rest);
  return parts.filter((p) => p !== "");
}

/**
 * Compiles a layout template: `/`-separated components of literal text and
 * `{Keyword}` placeholders (DICOM keywords of PS3.6; `{Keyword:05}` pads a
 * number with zeros). Each placeholder's value is sanitised; an empty value
 * gives `_`.
 *
 * @param template E.g. `{PatientID}/{StudyDate}_{StudyInstanceUID}/{SOPInstanceUID}.dcm`.
 * @returns The layout.
 * @throws {TypeError} For an absolute path, an empty or `..` component, an
 * unknown keyword (with the closest one), a sequence or bulk-data keyword,
 * or unbalanced braces.
 *
 * @example Compile a template and apply it
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutFromTemplate } from "@rad69/client";
 *
 * const layout = layoutFromTemplate("{PatientID}/{Modality}/{InstanceNumber:04}.dcm");
 * const values: Record<string, string | number> = {
 *   PatientID: "../evil",
 *   Modality: "CT",
 *   InstanceNumber: 7,
 * };
 * const instance = {
 *   ref: { studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" },
 *   get: (keyword: string) => values[keyword],
 * };
 * assert.deepEqual(layout(instance), ["__evil", "CT", "0007.dcm"]);
 * assert.throws(() => layoutFromTemplate("{PatientsID}.dcm"), /did you mean "PatientID"/);
 * ```
 */
export function layoutFromTemplate(template: string): DownloadLayout {
  const components = template.split(/[/\\]/);
  if (template.startsWith("/") || /^[A-Za-z]:/.test(template)) {
    throw new TypeError(
      `Invalid layout template "${template}": it must be relative to the download folder`,
    );
  }
  const parsed = components.map((component) => {
    if (component === "" || component === "." || component === "..") {
      throw new TypeError(
        `Invalid layout template "${template}": empty, "." or ".." folder names are not allowed`,
      );
    }
    return parseComponent(component, template);
  });
  if (!parsed.some((parts) => parts.some((p) => typeof p !== "string"))) {
    throw new TypeError(
      `Invalid layout template "${template}": it has no {Keyword}, so every instance would land on one path`,
    );
  }
  return (instance) =>
    parsed.map((parts) =>
      parts.map((part) => {
        if (typeof part === "string") return part;
        const text = valueText(instance.get(part.keyword));
        const padded = part.width > 0 && text !== ""
          ? text.padStart(part.width, "0")
          : text;
        return sanitizePathComponent(padded);
      }).join("")
    );
}

/**
 * Places instances by a layout inside a download folder, and refuses a
 * second instance on a path already given to another one in this download.
 * `download()` uses one per call.
 */
export class LayoutPlacer {
  readonly #root: string;
  readonly #layout: DownloadLayout;
  readonly #claimed = new Map<string, InstanceReference>();
  readonly #foldCase = Deno.build.os === "darwin" ||
    Deno.build.os === "windows";

  /**
   * Creates a placer.
   *
   * @param root The download folder.
   * @param layout The layout.
   */
  constructor(root: string, layout: DownloadLayout) {
    this.#root = root;
    this.#layout = layout;
  }

  /**
   * The path of an instance's file.
   *
   * @param instance The instance (its reference and attributes).
   * @returns The path inside the download folder.
   * @throws {LayoutError} When the layout throws or returns no components,
   * or the path is already another instance's.
   */
  place(instance: LayoutInstance): string {
    const ref = instance.ref;
    let components: readonly string[];
    try {
      components = this.#layout(instance);
    } catch (cause) {
      throw new LayoutError(
        `The download layout failed for instance "${ref.instanceUid}": ${
          cause instanceof Error ? cause.message : String(cause)
        }`,
        { instance: ref, cause },
      );
    }
    if (
      !Array.isArray(components) || components.length === 0 ||
      components.some((c) => typeof c !== "string")
    ) {
      throw new LayoutError(
        `The download layout returned no path for instance "${ref.instanceUid}": expected a non-empty array of names`,
        { instance: ref },
      );
    }
    const path = join(this.#root, ...components.map(sanitizePathComponent));
    const key = this.#foldCase ? path.toLowerCase() : path;
    const holder = this.#claimed.get(key);
    if (holder && holder.instanceUid !== ref.instanceUid) {
      throw new LayoutError(
        `Instances "${holder.instanceUid}" and "${ref.instanceUid}" would both be written to "${path}"; the second was not written (make the layout include {SOPInstanceUID})`,
        { instance: ref, conflictsWith: holder },
      );
    }
    this.#claimed.set(key, ref);
    return path;
  }
}
