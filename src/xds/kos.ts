/**
 * Key Object Selection (KOS) manifests, as XDS-I.b registers them: the
 * Current Requested Procedure Evidence Sequence (0040,A375) read into the
 * instance references a RAD-69 retrieve needs, each with the
 * RepositoryUniqueId of its imaging document source (the series' Retrieve
 * Location UID (0040,E011)).
 *
 * @module
 */

import { type DicomDataSet, parseFailure, parsePart10 } from "../dicom.ts";
import { InvalidUidError, KosError } from "../errors.ts";
import { assertUid } from "../references.ts";
import type { InstanceReference } from "../reference_types.ts";

/** Key Object Selection Document Storage, the SOP Class of a KOS. */
export const KOS_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.88.59";

/**
 * One instance a KOS manifest references: where it is (study, series,
 * instance and the repository that holds it) and what it is.
 *
 * @example A reference ready for a RAD-69 retrieve
 * ```ts
 * import assert from "node:assert/strict";
 * import { type KosReference, kosToReferences } from "./kos.ts";
 * import { buildKos } from "../testing/kos_builder.ts";
 *
 * const bytes = buildKos({
 *   studies: [{
 *     studyUid: "1.2.3",
 *     series: [{
 *       seriesUid: "1.2.3.4",
 *       repositoryUniqueId: "1.3.6.1.4.1.21367.13.80.110",
 *       instances: [{ instanceUid: "1.2.3.4.5" }],
 *     }],
 *   }],
 * });
 * const [ref]: KosReference[] = kosToReferences(bytes);
 * assert.equal(ref!.repositoryUniqueId, "1.3.6.1.4.1.21367.13.80.110");
 * assert.equal(ref!.sopClassUid, "1.2.840.10008.5.1.4.1.1.2");
 * ```
 */
export interface KosReference extends InstanceReference {
  /**
   * The series' Retrieve Location UID (0040,E011): the RepositoryUniqueId of
   * the imaging document source; else `defaultRepositoryUniqueId`.
   */
  readonly repositoryUniqueId: string;
  /** Referenced SOP Class UID (0008,1150). */
  readonly sopClassUid: string;
  /** The series' Retrieve AE Title (0008,0054), when given. */
  readonly retrieveAeTitle?: string;
  /** The series' Retrieve URL (0008,1190), when given. */
  readonly retrieveUrl?: string;
}

/** One instance of a {@linkcode KosSeries}. */
export interface KosInstance {
  /** Referenced SOP Instance UID (0008,1155). */
  readonly instanceUid: string;
  /** Referenced SOP Class UID (0008,1150). */
  readonly sopClassUid: string;
}

/** One item of a study's Referenced Series Sequence (0008,1115). */
export interface KosSeries {
  /** Series Instance UID (0020,000E). */
  readonly seriesUid: string;
  /** Retrieve Location UID (0040,E011), else `defaultRepositoryUniqueId`. */
  readonly repositoryUniqueId: string;
  /** Retrieve AE Title (0008,0054), when given. */
  readonly retrieveAeTitle?: string;
  /** Retrieve URL (0008,1190), when given. */
  readonly retrieveUrl?: string;
  /** The Referenced SOP Sequence (0008,1199), in order. */
  readonly instances: readonly KosInstance[];
}

/** One item of the Current Requested Procedure Evidence Sequence. */
export interface KosStudy {
  /** Study Instance UID (0020,000D). */
  readonly studyUid: string;
  /** The Referenced Series Sequence (0008,1115), in order. */
  readonly series: readonly KosSeries[];
}

/**
 * A KOS manifest read by {@linkcode readKos}: its own SOP Instance UID, the
 * patient, the evidence as it is nested, and the flat references.
 *
 * @example Studies and references of a manifest
 * ```ts
 * import assert from "node:assert/strict";
 * import { type KosManifest, readKos } from "./kos.ts";
 * import { buildKos } from "../testing/kos_builder.ts";
 *
 * const manifest: KosManifest = readKos(buildKos({
 *   sopInstanceUid: "1.2.9",
 *   patientId: "PAT-1",
 *   studies: [{
 *     studyUid: "1.2.3",
 *     series: [{
 *       seriesUid: "1.2.3.4",
 *       repositoryUniqueId: "1.2.99",
 *       instances: [{ instanceUid: "1.2.3.4.5" }, { instanceUid: "1.2.3.4.6" }],
 *     }],
 *   }],
 * }));
 * assert.equal(manifest.sopInstanceUid, "1.2.9");
 * assert.equal(manifest.patientId, "PAT-1");
 * assert.equal(manifest.studies[0]!.series[0]!.instances.length, 2);
 * assert.equal(manifest.references.length, 2);
 * ```
 */
export interface KosManifest {
  /** The manifest's own SOP Instance UID (0008,0018). */
  readonly sopInstanceUid: string;
  /** Patient ID (0010,0020), when present and not empty. */
  readonly patientId?: string;
  /** The Current Requested Procedure Evidence Sequence (0040,A375). */
  readonly studies: readonly KosStudy[];
  /** Every referenced instance, study by study, series by series. */
  readonly references: readonly KosReference[];
}

/**
 * Options of {@linkcode readKos} and {@linkcode kosToReferences}.
 *
 * @example A manifest without Retrieve Location UIDs
 * ```ts
 * import assert from "node:assert/strict";
 * import { kosToReferences, type ReadKosOptions } from "./kos.ts";
 * import { buildKos } from "../testing/kos_builder.ts";
 *
 * const bytes = buildKos({
 *   studies: [{
 *     studyUid: "1.2.3",
 *     series: [{ seriesUid: "1.2.3.4", instances: [{ instanceUid: "1.2.3.4.5" }] }],
 *   }],
 * });
 * const options: ReadKosOptions = {
 *   file: "manifest.dcm",
 *   defaultRepositoryUniqueId: "1.2.99",
 * };
 * assert.equal(kosToReferences(bytes, options)[0]!.repositoryUniqueId, "1.2.99");
 * ```
 */
export interface ReadKosOptions {
  /** The file name, for error messages. */
  file?: string;
  /**
   * The RepositoryUniqueId of series without a Retrieve Location UID. Without
   * it, such a series is an error.
   */
  defaultRepositoryUniqueId?: string;
}

/** Names of SOP classes a wrong file is likely to have, for messages. */
const SOP_CLASS_NAMES: Readonly<Record<string, string>> = {
  "1.2.840.10008.5.1.4.1.1.2": "CT Image Storage",
  "1.2.840.10008.5.1.4.1.1.4": "MR Image Storage",
  "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image Storage",
  "1.2.840.10008.5.1.4.1.1.88.11": "Basic Text SR Storage",
  "1.2.840.10008.5.1.4.1.1.88.22": "Enhanced SR Storage",
  "1.2.840.10008.5.1.4.1.1.88.33": "Comprehensive SR Storage",
  "1.2.840.10008.5.1.4.1.1.104.1": "Encapsulated PDF Storage",
};

/** `xGGGGEEEE` as `(GGGG,EEEE)`. */
function tagName(tag: string): string {
  return `(${tag.slice(1, 5)},${tag.slice(5, 9)})`.toUpperCase();
}

/** Reads a manifest's items with the context of errors. */
class KosReader {
  readonly #file: string | undefined;
  readonly #defaultRepository: string | undefined;

  constructor(options: ReadKosOptions) {
    this.#file = options.file;
    this.#defaultRepository = options.defaultRepositoryUniqueId;
  }

  /** A KosError at `tagPath`. */
  error(reason: string, tagPath: string, cause?: unknown): KosError {
    return new KosError(reason, {
      ...(this.#file !== undefined ? { file: this.#file } : {}),
      tagPath,
      ...(cause !== undefined ? { cause } : {}),
    });
  }

  /** A required, valid UID of `dataset`; `path` is the item's path. */
  uid(dataset: DicomDataSet, tag: string, name: string, path: string): string {
    const value = dataset.string(tag);
    if (!value) throw this.error(`no ${name}`, path || tagName(tag));
    const at = path ? `${path} > ${tagName(tag)}` : tagName(tag);
    try {
      assertUid(value, at);
    } catch (e) {
      if (!(e instanceof InvalidUidError)) throw e;
      const reason = e.message.slice(e.message.indexOf(`"${value}" `));
      throw this.error(`invalid ${name} ${reason}`, at, e);
    }
    return value;
  }

  /** The items of a required, non-empty sequence of `dataset`. */
  items(
    dataset: DicomDataSet,
    tag: string,
    name: string,
    path: string,
  ): { dataset: DicomDataSet; path: string }[] {
    const element = dataset.elements[tag];
    if (!element) throw this.error(`no ${name}`, path || tagName(tag));
    const at = path ? `${path} > ${tagName(tag)}` : tagName(tag);
    const items = element.items ?? [];
    if (items.length === 0) throw this.error(`the ${name} is empty`, at);
    return items.map((item, i) => {
      if (!item.dataSet) throw this.error("an item that cannot be read", at);
      return { dataset: item.dataSet, path: `${at}[${i}]` };
    });
  }

  /** One item of the Referenced Series Sequence. */
  series(dataset: DicomDataSet, path: string): KosSeries {
    const seriesUid = this.uid(
      dataset,
      "x0020000e",
      "Series Instance UID",
      path,
    );
    let repositoryUniqueId: string;
    if (dataset.string("x0040e011")) {
      repositoryUniqueId = this.uid(
        dataset,
        "x0040e011",
        "Retrieve Location UID",
        path,
      );
    } else if (this.#defaultRepository !== undefined) {
      repositoryUniqueId = this.#defaultRepository;
    } else {
      throw this.error(
        "no Retrieve Location UID (0040,E011), and no defaultRepositoryUniqueId was given",
        path,
      );
    }
    const instances = this.items(
      dataset,
      "x00081199",
      "Referenced SOP Sequence",
      path,
    ).map((item) => ({
      instanceUid: this.uid(
        item.dataset,
        "x00081155",
        "Referenced SOP Instance UID",
        item.path,
      ),
      sopClassUid: this.uid(
        item.dataset,
        "x00081150",
        "Referenced SOP Class UID",
        item.path,
      ),
    }));
    const retrieveAeTitle = dataset.string("x00080054");
    const retrieveUrl = dataset.string("x00081190");
    return {
      seriesUid,
      repositoryUniqueId,
      ...(retrieveAeTitle ? { retrieveAeTitle } : {}),
      ...(retrieveUrl ? { retrieveUrl } : {}),
      instances,
    };
  }

  /** The whole manifest. */
  manifest(bytes: Uint8Array): KosManifest {
    const dataset = this.#parse(bytes);
    const sopClass = dataset.string("x00080016") ??
      dataset.string("x00020002");
    if (!sopClass) throw this.error("no SOP Class UID", "(0008,0016)");
    if (sopClass !== KOS_SOP_CLASS_UID) {
      const name = SOP_CLASS_NAMES[sopClass];
      throw this.error(
        `not a Key Object Selection Document (${KOS_SOP_CLASS_UID}): its SOP Class UID is "${sopClass}"${
          name ? ` (${name})` : ""
        }`,
        "(0008,0016)",
      );
    }
    const sopInstanceUid = dataset.string("x00080018")
      ? this.uid(dataset, "x00080018", "SOP Instance UID", "")
      : this.uid(dataset, "x00020003", "SOP Instance UID", "");
    const studies = this.items(
      dataset,
      "x0040a375",
      "Current Requested Procedure Evidence Sequence",
      "",
    ).map((study) => ({
      studyUid: this.uid(
        study.dataset,
        "x0020000d",
        "Study Instance UID",
        study.path,
      ),
      series: this.items(
        study.dataset,
        "x00081115",
        "Referenced Series Sequence",
        study.path,
      ).map((series) => this.series(series.dataset, series.path)),
    }));
    const patientId = dataset.string("x00100020");
    return {
      sopInstanceUid,
      ...(patientId ? { patientId } : {}),
      studies,
      references: flatten(studies),
    };
  }

  /** Parses the bytes as a Part-10 file. */
  #parse(bytes: Uint8Array): DicomDataSet {
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot read KOS manifest: expected a Uint8Array, got ${typeof bytes}`,
      );
    }
    const dicm = bytes.length >= 132 &&
      new TextDecoder("latin1").decode(bytes.subarray(128, 132)) === "DICM";
    if (!dicm) {
      throw this.error(
        bytes.length < 132
          ? `not a DICOM file: only ${bytes.length} bytes, too short for a Part-10 file`
          : 'not a DICOM file: no "DICM" prefix at byte 128',
        "",
      );
    }
    try {
      return parsePart10(bytes);
    } catch (cause) {
      throw this.error(
        `not a readable DICOM file: ${parseFailure(cause)}`,
        "",
        cause,
      );
    }
  }
}

/** The references of the studies, in order. */
function flatten(studies: readonly KosStudy[]): KosReference[] {
  const out: KosReference[] = [];
  for (const study of studies) {
    for (const series of study.series) {
      for (const instance of series.instances) {
        out.push({
          studyUid: study.studyUid,
          seriesUid: series.seriesUid,
          instanceUid: instance.instanceUid,
          repositoryUniqueId: series.repositoryUniqueId,
          sopClassUid: instance.sopClassUid,
          ...(series.retrieveAeTitle !== undefined
            ? { retrieveAeTitle: series.retrieveAeTitle }
            : {}),
          ...(series.retrieveUrl !== undefined
            ? { retrieveUrl: series.retrieveUrl }
            : {}),
        });
      }
    }
  }
  return out;
}

/**
 * Reads a KOS manifest (Key Object Selection Document, DICOM Part-10, in any
 * transfer syntax, deflated included; sequences and items of defined or
 * undefined length): its SOP Instance UID, Patient ID, the Current
 * Requested Procedure Evidence Sequence (0040,A375) as studies > series >
 * instances, and the flat references.
 *
 * @param bytes The manifest file.
 * @param options The file name for messages; the repository of series
 * without a Retrieve Location UID.
 * @returns The manifest.
 * @throws {KosError} When the bytes are not a DICOM file or not a KOS; when
 * the evidence sequence, a Referenced Series or Referenced SOP Sequence is
 * missing or empty; when a UID is missing or malformed; when a series has no
 * Retrieve Location UID and no `defaultRepositoryUniqueId` is given. The
 * message names the file and the tag path.
 * @throws {InvalidUidError} When `defaultRepositoryUniqueId` is not a UID.
 *
 * @example Read a manifest of two studies
 * ```ts
 * import assert from "node:assert/strict";
 * import { readKos } from "./kos.ts";
 * import { buildKos } from "../testing/kos_builder.ts";
 *
 * const bytes = buildKos({
 *   transferSyntax: "deflated",
 *   studies: [
 *     { studyUid: "1.2.1", series: [{ seriesUid: "1.2.1.1", repositoryUniqueId: "1.9.1", instances: [{ instanceUid: "1.2.1.1.1" }] }] },
 *     { studyUid: "1.2.2", series: [{ seriesUid: "1.2.2.1", repositoryUniqueId: "1.9.2", instances: [{ instanceUid: "1.2.2.1.1" }] }] },
 *   ],
 * });
 * const manifest = readKos(bytes, { file: "manifest.dcm" });
 * assert.deepEqual(manifest.studies.map((s) => s.studyUid), ["1.2.1", "1.2.2"]);
 * assert.deepEqual(manifest.references.map((r) => r.repositoryUniqueId), ["1.9.1", "1.9.2"]);
 * ```
 */
export function readKos(
  bytes: Uint8Array,
  options: ReadKosOptions = {},
): KosManifest {
  if (options.defaultRepositoryUniqueId !== undefined) {
    assertUid(
      options.defaultRepositoryUniqueId,
      "options.defaultRepositoryUniqueId",
    );
  }
  return new KosReader(options).manifest(bytes);
}

/**
 * The instance references of a KOS manifest, each with its
 * RepositoryUniqueId (the series' Retrieve Location UID), SOP Class UID and,
 * when given, Retrieve AE Title and Retrieve URL: what a RAD-69 retrieve
 * needs, in manifest order.
 *
 * @param bytes The manifest file.
 * @param options The file name for messages; the repository of series
 * without a Retrieve Location UID.
 * @returns The references.
 * @throws {KosError} When the manifest cannot be read (see
 * {@linkcode readKos}).
 * @throws {InvalidUidError} When `defaultRepositoryUniqueId` is not a UID.
 *
 * @example A broken manifest names the place
 * ```ts
 * import assert from "node:assert/strict";
 * import { KosError } from "../errors.ts";
 * import { kosToReferences } from "./kos.ts";
 * import { buildKos } from "../testing/kos_builder.ts";
 *
 * const bytes = buildKos({
 *   studies: [{ studyUid: "1.2.3", series: [{ seriesUid: "1.2.3.4", instances: [{ instanceUid: "1.2.3.4.5" }] }] }],
 * });
 * assert.throws(() => kosToReferences(bytes, { file: "manifest.dcm" }), (e) => {
 *   assert.ok(e instanceof KosError);
 *   assert.equal(e.tagPath, "(0040,A375)[0] > (0008,1115)[0]");
 *   assert.match(e.message, /^manifest\.dcm: .* no Retrieve Location UID/);
 *   return true;
 * });
 * ```
 */
export function kosToReferences(
  bytes: Uint8Array,
  options: ReadKosOptions = {},
): KosReference[] {
  return [...readKos(bytes, options).references];
}
