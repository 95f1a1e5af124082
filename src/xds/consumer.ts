/**
 * The XDS-I.b imaging consumer: from a patient id (ITI-18 → ITI-43) or from
 * KOS manifests to files on disk (RAD-69, or RAD-75 across communities),
 * one imaging document source at a time, with one report.
 *
 * @module
 */

import { Rad69Client, type Rad69ClientOptions } from "../client.ts";
import type { ExchangeOptions } from "../config.ts";
import type {
  DownloadEntry,
  DownloadOptions,
  DownloadProgress,
  DownloadReport,
} from "../download.ts";
import { Rad69Error } from "../errors.ts";
import type { InstanceReference } from "../reference_types.ts";
import { redactUrl } from "../redact.ts";
import type { AttemptReport } from "../outcome.ts";
import type { RegistryError } from "../soap/types.ts";
import { createTlsHttpClient } from "../tls.ts";
import { DEFAULT_REPOSITORY_UNIQUE_ID } from "../soap/request.ts";
import {
  type DocumentEntry,
  findDocuments,
  type FindDocumentsQuery,
  type FindDocumentsResult,
} from "./iti18.ts";
import { type DocumentReference, retrieveDocuments } from "./iti43.ts";
import { readKos } from "./kos.ts";
import {
  fetchedManifestPath,
  savedManifest,
  saveManifest,
} from "./manifest_files.ts";
import {
  planSources,
  type SourceEndpoint,
  type SourcePlan,
} from "./source_plan.ts";

/**
 * Options of {@linkcode XdsImagingConsumer}: the client options every
 * endpoint shares (headers, TLS, XUA `securityHeader`, `onUnauthorized`,
 * retries, timeouts, concurrency...) and the endpoints of the affinity
 * domain.
 */
export interface XdsImagingConsumerOptions
  extends Omit<Rad69ClientOptions, "url"> {
  /** The RAD-69 endpoint of every imaging document source not in `sources`. */
  url?: string | URL;
  /**
   * Imaging document sources by RepositoryUniqueId (the KOS series' Retrieve
   * Location UID): a URL, or client options of their own.
   */
  sources?: Readonly<Record<string, SourceEndpoint>>;
  /** The XDS registry's ITI-18 endpoint (a gateway's ITI-38 one with `crossGateway`). */
  registry?: string | URL;
  /** The ITI-43 endpoint of every repository not in `repositories`. */
  repository?: string | URL;
  /** XDS repositories by repositoryUniqueId (of the DocumentEntries). */
  repositories?: Readonly<Record<string, string | URL>>;
}

/** A KOS manifest handed in by the caller. */
export interface ManifestInput {
  /** The Part-10 bytes of the KOS. */
  readonly bytes: Uint8Array;
  /** Where it came from, for messages and the report. */
  readonly file?: string;
}

/** What happened to one manifest. */
export interface ManifestEntry {
  /**
   * `"given"`: handed in; `"fetched"`: retrieved with ITI-43 and saved;
   * `"present"`: already saved by an earlier run (`resume`); `"failed"`: not
   * retrieved, or not a readable KOS (see `error`).
   */
  readonly status: "given" | "fetched" | "present" | "failed";
  /** The KOS's SOP Instance UID = the DocumentEntry's uniqueId, when known. */
  readonly documentUniqueId?: string | undefined;
  /** The repository it came from (fetched manifests). */
  readonly repositoryUniqueId?: string | undefined;
  /** Its community, when it has one. */
  readonly homeCommunityId?: string | undefined;
  /** The file it was read from, or saved to. */
  readonly path?: string | undefined;
  /** How many studies and instances it lists. */
  readonly studies: number;
  /** How many instances it lists. */
  readonly instances: number;
  /** Why it failed. */
  readonly error?: Rad69Error | undefined;
  /** The error's message. */
  readonly reason?: string | undefined;
}

/** The plan of a flow: manifests, then sources with their instances. */
export interface XdsPlan {
  /** Every manifest, read or failed. */
  readonly manifests: readonly ManifestEntry[];
  /** One entry per imaging document source. */
  readonly sources: readonly SourcePlan[];
  /** Distinct instances to retrieve. */
  readonly instances: number;
  /**
   * What the registry said besides the entries (patient flows): its status
   * and the RegistryErrors it sent with them (PartialSuccess). An error of
   * severity Error means entries may be missing: the report is then not
   * complete.
   */
  readonly registry?: {
    readonly status: string;
    readonly errors: readonly RegistryError[];
  } | undefined;
}

/** What a source delivered, in the report. */
export interface SourceSummary {
  /** The source's RepositoryUniqueId. */
  readonly repositoryUniqueId: string;
  /** Its community, if any. */
  readonly homeCommunityId?: string | undefined;
  /** The endpoint, printable. */
  readonly url: string;
  /** Instances requested from it. */
  readonly instances: number;
  /** How many were delivered, skipped (present) and failed. */
  readonly delivered: number;
  /** Skipped because complete files were present. */
  readonly skipped: number;
  /** Not delivered. */
  readonly failed: number;
}

/** The report of a flow: the instances as `download()` reports them, and more. */
export interface XdsDownloadReport extends DownloadReport {
  /** What the registry said besides the entries (patient flows). */
  readonly registry?: XdsPlan["registry"];
  /** Every manifest and what happened to it. */
  readonly manifests: readonly ManifestEntry[];
  /** Every source and what it delivered. */
  readonly sources: readonly SourceSummary[];
}

/**
 * An XDS-I.b Imaging Document Consumer.
 *
 * - `downloadForPatient(query, dir)`: ITI-18 FindDocuments (KOS manifests
 *   of the patient) → ITI-43 (each from its repository; saved as
 *   `dir/manifests/<documentUniqueId>.dcm`) → RAD-69 per source (RAD-75
 *   with `crossGateway`) → `dir/<study>/<series>/<instance>.dcm`.
 * - `downloadManifests(manifests, dir)`: the same from KOS files in hand.
 * - `planForPatient()` / `planManifests()`: the plan, requesting no image.
 *
 * @example From a KOS manifest to files, against the fake server
 * ```ts
 * import assert from "node:assert/strict";
 * import { XdsImagingConsumer } from "@rad69/client";
 * import { buildKos, FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 2, instancesPerSeries: 2 });
 * await using source = await FakeRad69Server.start({ instances: study });
 * const kos = buildKos({
 *   studies: [{
 *     studyUid: study[0]!.studyUid,
 *     series: [...new Set(study.map((i) => i.seriesUid))].map((seriesUid) => ({
 *       seriesUid,
 *       repositoryUniqueId: "1.3.6.1.4.1.21367.13.80.110",
 *       instances: study.filter((i) => i.seriesUid === seriesUid),
 *     })),
 *   }],
 * });
 * const consumer = new XdsImagingConsumer({
 *   sources: { "1.3.6.1.4.1.21367.13.80.110": source.url },
 * });
 * const dir = await Deno.makeTempDir();
 * const report = await consumer.downloadManifests([{ bytes: kos }], dir);
 * assert.equal(report.delivered, 4);
 * assert.ok(report.complete);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class XdsImagingConsumer {
  #options: Readonly<XdsImagingConsumerOptions>;

  /**
   * Creates a consumer. Nothing is sent until a flow runs.
   *
   * @param options The endpoints and the shared client options.
   * @throws {TypeError} When an endpoint URL is not http(s).
   */
  constructor(options: XdsImagingConsumerOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError(
        "Cannot create XdsImagingConsumer: options are required",
      );
    }
    for (
      const [name, value] of [
        ["url", options.url],
        ["registry", options.registry],
        ["repository", options.repository],
        ...Object.entries(options.repositories ?? {}).map((
          [uid, url],
        ) => [`repositories["${uid}"]`, url] as const),
      ] as const
    ) {
      if (value !== undefined) assertHttpUrl(String(value), name);
    }
    this.#options = Object.freeze({ ...options });
  }

  /**
   * Finds a patient's KOS manifests in the registry (ITI-18, or ITI-38
   * with `crossGateway`).
   *
   * @param query The patient (CX) and filters.
   * @returns The DocumentEntries found.
   * @throws {TypeError} When no `registry` is configured.
   * @throws {Rad69Error} When the query fails (`RegistryQueryError`, ...).
   */
  async findManifests(query: FindDocumentsQuery): Promise<DocumentEntry[]> {
    return [...(await this.#query(query)).documents];
  }

  /** Runs the registry query; the whole result. */
  async #query(query: FindDocumentsQuery): Promise<FindDocumentsResult> {
    const registry = this.#options.registry;
    if (registry === undefined) {
      throw new TypeError(
        "Cannot query for manifests: no registry endpoint (option registry, --registry)",
      );
    }
    const result = await this.#withExchange(
      String(registry),
      (options) => findDocuments(query, options),
    );
    for (const e of result.errors) {
      this.#options.logger?.warn?.(
        `Registry answered ${result.status} with ${e.code}${
          e.context ? `: ${e.context}` : ""
        }`,
      );
    }
    return result;
  }

  /**
   * The plan for KOS manifests in hand: every manifest read, its instances
   * grouped by source and mapped to endpoints.
   *
   * @param manifests The KOS files.
   * @returns The plan.
   * @throws {UnknownSourceError} When a source has no endpoint.
   */
  planManifests(manifests: Iterable<ManifestInput>): XdsPlan {
    const entries: ManifestEntry[] = [];
    const refs: InstanceReference[] = [];
    for (const input of manifests) {
      entries.push(this.#readManifest(input, "given", {}, refs));
    }
    return this.#plan(entries, refs);
  }

  /**
   * The plan for a patient: the registry is queried and the manifests are
   * retrieved (and saved under `dir/manifests/` when `dir` is given), but no
   * image is requested.
   *
   * @param query The patient and filters.
   * @param dir Where to save the manifests, if anywhere.
   * @param options `resume` reuses manifests saved by an earlier run.
   * @returns The plan.
   */
  async planForPatient(
    query: FindDocumentsQuery,
    dir?: string,
    options: { resume?: boolean } = {},
  ): Promise<XdsPlan> {
    const result = await this.#query(query);
    const found = result.documents;
    const entries: ManifestEntry[] = [];
    const refs: InstanceReference[] = [];
    for await (const fetched of this.#fetchManifests(found, dir, options)) {
      if ("entry" in fetched) {
        entries.push(fetched.entry);
        continue;
      }
      entries.push(
        this.#readManifest(fetched.input, fetched.status, fetched.doc, refs),
      );
    }
    return {
      ...this.#plan(entries, refs),
      registry: { status: result.status, errors: result.errors },
    };
  }

  /**
   * Downloads what KOS manifests list into `dir`.
   *
   * @param manifests The KOS files.
   * @param dir The output folder.
   * @param options As for `Rad69Client.download()`.
   * @returns The report: instances, manifests and sources.
   * @throws {UnknownSourceError} Before any request, when a source has no
   * endpoint.
   */
  downloadManifests(
    manifests: Iterable<ManifestInput>,
    dir: string,
    options: DownloadOptions = {},
  ): Promise<XdsDownloadReport> {
    return this.downloadPlan(this.planManifests(manifests), dir, options);
  }

  /**
   * ITI-18 → ITI-43 → RAD-69: downloads every image the patient's KOS
   * manifests list into `dir` (manifests in `dir/manifests/`).
   *
   * @param query The patient (CX) and filters.
   * @param dir The output folder.
   * @param options As for `Rad69Client.download()`; `resume` also reuses
   * saved manifests.
   * @returns The report.
   */
  async downloadForPatient(
    query: FindDocumentsQuery,
    dir: string,
    options: DownloadOptions = {},
  ): Promise<XdsDownloadReport> {
    const plan = await this.planForPatient(query, dir, options);
    return this.downloadPlan(plan, dir, options);
  }

  /**
   * Runs a plan: each source in turn, through a `Rad69Client` for it.
   *
   * @param plan A plan from `planManifests()` or `planForPatient()`.
   * @param dir The output folder.
   * @param options As for `Rad69Client.download()`.
   * @returns The report.
   */
  async downloadPlan(
    plan: XdsPlan,
    dir: string,
    options: DownloadOptions = {},
  ): Promise<XdsDownloadReport> {
    const started = performance.now();
    const reports: DownloadReport[] = [];
    const sources: SourceSummary[] = [];
    const progress = aggregateProgress(plan.instances, options.onProgress);
    for (const source of plan.sources) {
      using client = new Rad69Client(source.options);
      const report = await client.download(source.refs, dir, {
        ...options,
        onProgress: progress.forSource(),
      });
      progress.sourceDone(report);
      reports.push(report);
      sources.push({
        repositoryUniqueId: source.repositoryUniqueId,
        ...(source.homeCommunityId !== undefined
          ? { homeCommunityId: source.homeCommunityId }
          : {}),
        url: source.url,
        instances: source.refs.length,
        delivered: report.delivered,
        skipped: report.skipped,
        failed: report.failed,
      });
    }
    return mergeReports(dir, reports, plan, sources, started);
  }

  /** Reads one manifest into an entry, adding its references to `refs`. */
  #readManifest(
    input: ManifestInput,
    status: ManifestEntry["status"],
    doc: Partial<DocumentReference>,
    refs: InstanceReference[],
  ): ManifestEntry {
    const base = {
      ...(doc.repositoryUniqueId !== undefined
        ? { repositoryUniqueId: doc.repositoryUniqueId }
        : {}),
      ...(doc.homeCommunityId !== undefined
        ? { homeCommunityId: doc.homeCommunityId }
        : {}),
      ...(input.file !== undefined ? { path: input.file } : {}),
    };
    try {
      // A series without Retrieve Location UID is fine when one url serves all.
      const fallback = this.#options.url === undefined
        ? undefined
        : this.#options.repositoryUniqueId ?? DEFAULT_REPOSITORY_UNIQUE_ID;
      const kos = readKos(input.bytes, {
        ...(input.file !== undefined ? { file: input.file } : {}),
        ...(fallback !== undefined
          ? { defaultRepositoryUniqueId: fallback }
          : {}),
      });
      const community = doc.homeCommunityId ?? this.#options.homeCommunityId;
      for (const ref of kos.references) {
        refs.push({
          studyUid: ref.studyUid,
          seriesUid: ref.seriesUid,
          instanceUid: ref.instanceUid,
          ...(ref.repositoryUniqueId !== undefined
            ? { repositoryUniqueId: ref.repositoryUniqueId }
            : {}),
          ...(community !== undefined ? { homeCommunityId: community } : {}),
        });
      }
      return {
        status,
        documentUniqueId: kos.sopInstanceUid,
        ...base,
        studies: new Set(kos.references.map((r) => r.studyUid)).size,
        instances: kos.references.length,
      };
    } catch (error) {
      if (!(error instanceof Rad69Error)) throw error;
      return {
        status: "failed",
        ...(doc.documentUniqueId !== undefined
          ? { documentUniqueId: doc.documentUniqueId }
          : {}),
        ...base,
        studies: 0,
        instances: 0,
        error,
        reason: error.message,
      };
    }
  }

  /** Groups the references by source (throws for unmapped sources). */
  #plan(manifests: ManifestEntry[], refs: InstanceReference[]): XdsPlan {
    const {
      url,
      sources,
      registry: _r,
      repository: _p,
      repositories: _s,
      ...base
    } = this.#options;
    const plans = planSources(refs, { base, url, sources });
    return {
      manifests,
      sources: plans,
      instances: plans.reduce((n, p) => n + p.refs.length, 0),
    };
  }

  /**
   * Retrieves the manifests of DocumentEntries, grouped by repository;
   * yields each as bytes to read, or as a failed entry.
   */
  async *#fetchManifests(
    found: readonly DocumentEntry[],
    dir: string | undefined,
    options: { resume?: boolean },
  ): AsyncGenerator<
    | {
      input: ManifestInput;
      status: "fetched" | "present";
      doc: DocumentReference;
    }
    | { entry: ManifestEntry }
  > {
    const byRepository = new Map<string, DocumentReference[]>();
    for (const entry of found) {
      const doc: DocumentReference = {
        repositoryUniqueId: entry.repositoryUniqueId,
        documentUniqueId: entry.uniqueId,
        ...(entry.homeCommunityId !== undefined
          ? { homeCommunityId: entry.homeCommunityId }
          : {}),
      };
      if (dir !== undefined && options.resume) {
        const present = await savedManifest(dir, doc.documentUniqueId);
        if (present) {
          yield { input: present, status: "present", doc };
          continue;
        }
      }
      let list = byRepository.get(doc.repositoryUniqueId);
      if (!list) byRepository.set(doc.repositoryUniqueId, list = []);
      list.push(doc);
    }
    for (const [repositoryUniqueId, docs] of byRepository) {
      const url = this.#options.repositories?.[repositoryUniqueId] ??
        this.#options.repository;
      if (url === undefined) {
        for (const doc of docs) {
          const error = new Rad69Error(
            `No repository endpoint for repositoryUniqueId ${repositoryUniqueId} (manifest ${doc.documentUniqueId}): map it with repositories (--repository UID=URL) or give one repository for all`,
          );
          yield { entry: failedManifest(doc, error) };
        }
        continue;
      }
      const outcomes = await this.#withExchange(
        String(url),
        (exchange) => Array.fromAsync(retrieveDocuments(docs, exchange)),
      );
      for (const outcome of outcomes) {
        if (outcome.status === "failed") {
          yield { entry: failedManifest(outcome.ref, outcome.error) };
          continue;
        }
        const bytes = outcome.instance.bytes;
        const path = dir === undefined
          ? undefined
          : await saveManifest(dir, outcome.ref.documentUniqueId, bytes);
        yield {
          input: {
            bytes,
            file: path ?? fetchedManifestPath(outcome.ref.documentUniqueId),
          },
          status: "fetched",
          doc: outcome.ref,
        };
      }
    }
  }

  /** Runs an ITI call with the shared options (TLS client built and closed). */
  async #withExchange<T>(
    url: string,
    run: (options: ExchangeOptions) => Promise<T>,
  ): Promise<T> {
    const { tls, client, ...rest } = this.#options;
    const own = client === undefined && tls
      ? createTlsHttpClient(tls)
      : undefined;
    try {
      return await run({
        ...rest,
        url,
        ...(client ?? own ? { client: (client ?? own)! } : {}),
      } as ExchangeOptions);
    } finally {
      own?.close();
    }
  }
}

/** A manifest that could not be retrieved. */
function failedManifest(
  doc: DocumentReference,
  error: Rad69Error,
): ManifestEntry {
  return {
    status: "failed",
    documentUniqueId: doc.documentUniqueId,
    repositoryUniqueId: doc.repositoryUniqueId,
    ...(doc.homeCommunityId !== undefined
      ? { homeCommunityId: doc.homeCommunityId }
      : {}),
    studies: 0,
    instances: 0,
    error,
    reason: error.message,
  };
}

/** Checks an endpoint option is an http(s) URL. */
function assertHttpUrl(value: string, name: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(
      `Cannot create XdsImagingConsumer: ${name} "${
        redactUrl(value)
      }" is not a valid URL`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(
      `Cannot create XdsImagingConsumer: ${name} "${
        redactUrl(value)
      }" must be http or https`,
    );
  }
}

/** Progress over several per-source downloads, as one. */
function aggregateProgress(
  total: number,
  onProgress: ((progress: DownloadProgress) => void) | undefined,
) {
  const done = {
    delivered: 0,
    skipped: 0,
    failed: 0,
    bytesWritten: 0,
    bytesSkipped: 0,
    bytesReceived: 0,
  };
  const started = performance.now();
  return {
    forSource(): ((progress: DownloadProgress) => void) | undefined {
      if (!onProgress) return undefined;
      return (p) => {
        const delivered = done.delivered + p.delivered;
        const skipped = done.skipped + p.skipped;
        const failed = done.failed + p.failed;
        const bytesWritten = done.bytesWritten + p.bytesWritten;
        const bytesSkipped = done.bytesSkipped + p.bytesSkipped;
        const sized = delivered + skipped;
        const instancesDone = delivered + skipped + failed;
        const known = bytesWritten + bytesSkipped;
        onProgress({
          instancesTotal: total,
          instancesDone,
          delivered,
          skipped,
          failed,
          bytesWritten,
          bytesSkipped,
          bytesReceived: done.bytesReceived + p.bytesReceived,
          bytesEstimatedTotal: sized === 0
            ? undefined
            : Math.round(known + (known / sized) * (total - instancesDone)),
          elapsedMs: performance.now() - started,
          ...(p.entry ? { entry: p.entry } : {}),
        });
      };
    },
    sourceDone(report: DownloadReport): void {
      done.delivered += report.delivered;
      done.skipped += report.skipped;
      done.failed += report.failed;
      done.bytesWritten += report.totalBytes;
      done.bytesSkipped += report.skippedBytes;
      done.bytesReceived += report.receivedBytes;
    },
  };
}

/** One report from the per-source reports. */
function mergeReports(
  dir: string,
  reports: readonly DownloadReport[],
  plan: XdsPlan,
  sources: readonly SourceSummary[],
  started: number,
): XdsDownloadReport {
  const entries: DownloadEntry[] = [];
  const attempts: AttemptReport[] = [];
  const sum = (pick: (r: DownloadReport) => number) =>
    reports.reduce((n, r) => n + pick(r), 0);
  for (const report of reports) {
    for (const entry of report.entries) entries.push(entry);
    for (const attempt of report.attempts) attempts.push(attempt);
  }
  const failed = sum((r) => r.failed);
  return {
    dir,
    entries,
    delivered: sum((r) => r.delivered),
    skipped: sum((r) => r.skipped),
    failed,
    totalBytes: sum((r) => r.totalBytes),
    skippedBytes: sum((r) => r.skippedBytes),
    receivedBytes: sum((r) => r.receivedBytes),
    staleFilesRemoved: sum((r) => r.staleFilesRemoved),
    attempts,
    elapsedMs: performance.now() - started,
    complete: failed === 0 &&
      plan.manifests.every((m) => m.status !== "failed") &&
      !(plan.registry?.errors.some((e) => !e.isWarning) ?? false),
    manifests: plan.manifests,
    sources,
    ...(plan.registry ? { registry: plan.registry } : {}),
  };
}
