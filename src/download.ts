/**
 * Downloads to disk: every delivered instance lands at
 * `<dir>/<study>/<series>/<instance>.dcm`, written to a temporary name in the
 * same folder and renamed once complete, so a final name never holds a
 * partial file.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  DocumentNotReturnedError,
  FileWriteError,
  InvalidUidError,
  LayoutError,
  type Rad69Error,
} from "./errors.ts";
import type { Rad69Instance } from "./instance.ts";
import { DownloadJournal } from "./download_journal.ts";
import { sinkOf, toFileWriteError } from "./file_sink.ts";
import { memoryInstanceSink } from "./instance_sink.ts";
import {
  PartWriters,
  type RetrieveToFn,
  type StagedFile,
} from "./download/part_writer.ts";
import { lockOutDir } from "./out_dir_lock.ts";
import {
  type InstanceReference,
  type Rad69Reference,
  toInstanceRefs,
} from "./references.ts";
import type { AttemptReport, ExchangeOutcome } from "./outcome.ts";
import { type DownloadLayout, LayoutPlacer } from "./layout.ts";
import type { RegistryError } from "./soap/types.ts";

/**
 * An instance that was retrieved and written in this run.
 *
 * @example The files a download wrote
 * ```ts
 * import assert from "node:assert/strict";
 * import { type DeliveredEntry, Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * using client = new Rad69Client({ url: server.url });
 * const dir = await Deno.makeTempDir();
 * try {
 *   const report = await client.download(study, dir);
 *   const written = report.entries.filter((e): e is DeliveredEntry =>
 *     e.status === "delivered"
 *   );
 *   assert.equal(written.length, 2);
 *   for (const entry of written) {
 *     assert.equal((await Deno.stat(entry.path)).size, entry.bytes);
 *     assert.deepEqual(entry.warnings, []);
 *   }
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export interface DeliveredEntry {
  /** The instance arrived and its file was written. */
  readonly status: "delivered";
  /** The requested instance. */
  readonly ref: InstanceReference;
  /** Where the file is: `<dir>/<study>/<series>/<instance>.dcm`. */
  readonly path: string;
  /** The size of the file in bytes. */
  readonly bytes: number;
  /** Warnings the server reported for the instance. */
  readonly warnings: readonly RegistryError[];
}

/**
 * An instance whose complete file was already there (`resume`).
 *
 * @example Files found complete on resume
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client, type SkippedEntry } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * using client = new Rad69Client({ url: server.url });
 * const dir = await Deno.makeTempDir();
 * try {
 *   await client.download(study, dir);
 *   const again = await client.download(study, dir, { resume: true });
 *   const entry = again.entries[0] as SkippedEntry;
 *   assert.equal(entry.status, "skipped");
 *   assert.equal(entry.bytes, study[0]!.bytes.length);
 *   assert.equal(server.requests.length, 1); // nothing asked the second time
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export interface SkippedEntry {
  /** The file was already present and complete; nothing was requested. */
  readonly status: "skipped";
  /** The requested instance. */
  readonly ref: InstanceReference;
  /** Where the file is. */
  readonly path: string;
  /** The size of the file in bytes. */
  readonly bytes: number;
}

/**
 * An instance that did not arrive.
 *
 * @example An instance the server does not have
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type FailedEntry,
 *   Rad69Client,
 *   XDSMissingDocumentError,
 * } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const [kept, gone] = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: [kept!] });
 * using client = new Rad69Client({ url: server.url });
 * const dir = await Deno.makeTempDir();
 * try {
 *   const report = await client.download([kept!, gone!], dir);
 *   const failed = report.entries.filter((e): e is FailedEntry =>
 *     e.status === "failed"
 *   );
 *   assert.equal(failed.length, 1);
 *   assert.equal(failed[0]!.ref.instanceUid, gone!.instanceUid);
 *   assert.ok(failed[0]!.error instanceof XDSMissingDocumentError);
 *   await assert.rejects(Deno.stat(failed[0]!.path), Deno.errors.NotFound);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export interface FailedEntry {
  /** The instance was not delivered; no file was written for it. */
  readonly status: "failed";
  /** The requested instance. */
  readonly ref: InstanceReference;
  /** Where the file would have been. */
  readonly path: string;
  /** Why it did not arrive. */
  readonly error: Rad69Error;
  /** The error's message, for reports. */
  readonly reason: string;
}

/**
 * What became of one requested instance in a download.
 *
 * @example One line per requested instance
 * ```ts
 * import assert from "node:assert/strict";
 * import { type DownloadEntry, Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * function line(entry: DownloadEntry): string {
 *   switch (entry.status) {
 *     case "delivered":
 *     case "skipped":
 *       return `${entry.status} ${entry.bytes} bytes`;
 *     case "failed":
 *       return `failed: ${entry.error.name}`;
 *   }
 * }
 * const [kept, gone] = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: [kept!] });
 * using client = new Rad69Client({ url: server.url });
 * const dir = await Deno.makeTempDir();
 * try {
 *   const report = await client.download([kept!, gone!], dir);
 *   assert.deepEqual(report.entries.map(line), [
 *     `delivered ${kept!.bytes.length} bytes`,
 *     "failed: XDSMissingDocumentError",
 *   ]);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export type DownloadEntry = DeliveredEntry | SkippedEntry | FailedEntry;

/**
 * Progress of a download, as reported to `onProgress`.
 *
 * @example Report progress
 * ```ts
 * import assert from "node:assert/strict";
 * import { type DownloadProgress, Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * using client = new Rad69Client({ url: server.url });
 * const dir = await Deno.makeTempDir();
 * try {
 *   const updates: DownloadProgress[] = [];
 *   await client.download(study, dir, { onProgress: (p) => updates.push(p) });
 *   const settled = updates.filter((p) => p.entry !== undefined);
 *   assert.deepEqual(settled.map((p) => p.instancesDone), [1, 2]);
 *   const last = updates.at(-1)!;
 *   assert.equal(last.instancesTotal, 2);
 *   assert.equal(last.delivered, 2);
 *   assert.ok(last.bytesReceived > last.bytesWritten); // MIME framing
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export interface DownloadProgress {
  /** How many distinct instances were requested. */
  readonly instancesTotal: number;
  /** How many are settled (delivered, skipped or failed). */
  readonly instancesDone: number;
  /** How many were delivered and written so far. */
  readonly delivered: number;
  /** How many were skipped because complete files were present. */
  readonly skipped: number;
  /** How many failed so far. */
  readonly failed: number;
  /** Bytes of files written in this run so far. */
  readonly bytesWritten: number;
  /** Bytes of the complete files found present (skipped). */
  readonly bytesSkipped: number;
  /** HTTP body bytes received so far (MIME framing included). */
  readonly bytesReceived: number;
  /**
   * An estimate of the bytes of all files once done (written + skipped +
   * the average file size times the instances not yet settled), or
   * `undefined` before any file size is known. RAD-69 answers carry no
   * length, so this is only an estimate.
   */
  readonly bytesEstimatedTotal: number | undefined;
  /** Milliseconds since the download started. */
  readonly elapsedMs: number;
  /** The entry that was just settled; absent for byte-count updates. */
  readonly entry?: DownloadEntry;
}

/**
 * Options of {@linkcode downloadInstances}.
 *
 * @example Resume an interrupted download
 * ```ts
 * import assert from "node:assert/strict";
 * import { type DownloadOptions, Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * using client = new Rad69Client({ url: server.url });
 * const dir = await Deno.makeTempDir();
 * try {
 *   await client.download(study.slice(0, 1), dir); // a first, partial run
 *   let attempts = 0;
 *   const options: DownloadOptions = {
 *     resume: true,
 *     signal: new AbortController().signal,
 *     onAttempt: () => attempts++,
 *   };
 *   const report = await client.download(study, dir, options);
 *   assert.equal(report.skipped, 1);
 *   assert.equal(report.delivered, 1);
 *   assert.equal(attempts, 1);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export interface DownloadOptions {
  /**
   * Skip instances whose final file is already present and complete (a
   * DICOM Part-10 file holding the expected SOP Instance UID). Files that
   * are not are downloaded again and replaced.
   *
   * @default {false}
   */
  resume?: boolean;
  /**
   * Flush each file (and its folder) to stable storage before and after the
   * rename, for crash safety at the cost of speed.
   *
   * @default {false}
   */
  fsync?: boolean;
  /**
   * Stops the download: the request in flight is cancelled, temporary files
   * are removed, and the promise rejects with the signal's reason. Files
   * already renamed to their final names are kept (a later `resume` skips
   * them).
   */
  signal?: AbortSignal;
  /**
   * Called after each instance is settled and as body bytes arrive. Keep it
   * cheap; it runs on the download's path.
   */
  onProgress?: (progress: DownloadProgress) => void;
  /** Called after every attempt of every request (also in the report). */
  onAttempt?: (report: AttemptReport) => void;
  /**
   * Where each file goes, instead of `<study>/<series>/<instance>.dcm`: a
   * function of the delivered instance (see {@linkcode DownloadLayout} and
   * `layoutFromTemplate`). Its names are sanitised; an instance whose path
   * another instance of this download already has fails with a
   * `LayoutError` and is not written. As the path is known only once the
   * instance has arrived, `resume` then skips writing a complete file
   * already there, but not requesting it, and a failed entry's `path` is
   * `""`.
   */
  layout?: DownloadLayout;
}

/**
 * The outcome of {@linkcode downloadInstances}.
 *
 * @example Summarise a download
 * ```ts
 * import assert from "node:assert/strict";
 * import { type DownloadReport, Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const [kept, gone] = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: [kept!] });
 * using client = new Rad69Client({ url: server.url });
 * const dir = await Deno.makeTempDir();
 * try {
 *   const report: DownloadReport = await client.download([kept!, gone!], dir);
 *   assert.equal(report.dir, dir);
 *   assert.equal(report.delivered, 1);
 *   assert.equal(report.failed, 1);
 *   assert.equal(report.totalBytes, kept!.bytes.length);
 *   assert.equal(report.attempts.length, 1);
 *   assert.equal(report.complete, false);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export interface DownloadReport {
  /** The output folder, as given. */
  readonly dir: string;
  /** One entry per distinct requested instance, in request order. */
  readonly entries: readonly DownloadEntry[];
  /** How many instances were delivered and written. */
  readonly delivered: number;
  /** How many were skipped (complete files already present). */
  readonly skipped: number;
  /** How many failed. */
  readonly failed: number;
  /** Bytes of the files written in this run. */
  readonly totalBytes: number;
  /** Bytes of the complete files that were already present. */
  readonly skippedBytes: number;
  /** HTTP body bytes received (MIME framing included). */
  readonly receivedBytes: number;
  /** Stale temporary files of earlier, interrupted runs that were removed. */
  readonly staleFilesRemoved: number;
  /** Every attempt of every request, in order. */
  readonly attempts: readonly AttemptReport[];
  /** Wall-clock duration in milliseconds. */
  readonly elapsedMs: number;
  /** `true` when no instance failed. */
  readonly complete: boolean;
}

/** Matches a temporary file name: `.<instance>.dcm.<random>.part`. */
const PART_NAME = /^\.(.+)\.dcm\.[0-9a-f]+\.part$/;

/** Checks that a UID is usable as one path component. */
function assertPathComponent(uid: string, where: string): void {
  if (
    uid === "." || uid === ".." || !/^[0-9][0-9.]*$/.test(uid) ||
    uid.length > 64
  ) {
    throw new InvalidUidError(uid, where, "is not a safe file name");
  }
}

/**
 * The path of an instance's file in a download folder:
 * `<dir>/<study>/<series>/<instance>.dcm`.
 *
 * @param dir The download folder.
 * @param ref The instance.
 * @returns The file path (relative when `dir` is).
 * @throws {InvalidUidError} When a UID could not be a safe path component.
 *
 * @example Where an instance lands
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { downloadPath } from "./download.ts";
 *
 * const path = downloadPath("out", {
 *   studyUid: "1.2",
 *   seriesUid: "1.2.3",
 *   instanceUid: "1.2.3.4",
 * });
 * assert.equal(path, join("out", "1.2", "1.2.3", "1.2.3.4.dcm"));
 * ```
 */
export function downloadPath(
  dir: string | URL,
  ref: InstanceReference,
): string {
  assertPathComponent(ref.studyUid, "studyUid");
  assertPathComponent(ref.seriesUid, "seriesUid");
  assertPathComponent(ref.instanceUid, "instanceUid");
  return join(
    toPath(dir),
    ref.studyUid,
    ref.seriesUid,
    `${ref.instanceUid}.dcm`,
  );
}

/** A folder given as a string or a file URL, as a path. */
function toPath(dir: string | URL): string {
  if (dir instanceof URL) return fileURLToPath(dir);
  if (typeof dir !== "string" || dir === "") {
    throw new TypeError(
      `Invalid download folder ${
        JSON.stringify(dir)
      }: expected a non-empty path`,
    );
  }
  return dir;
}

/**
 * Removes the temporary files (`.<instance>.dcm.<random>.part`) that an
 * interrupted run left for the given instances. Returns how many.
 */
async function removeStaleParts(
  folders: Map<string, Set<string>>,
): Promise<number> {
  let removed = 0;
  for (const [folder, uids] of folders) {
    let listing: AsyncIterable<Deno.DirEntry>;
    try {
      listing = Deno.readDir(folder);
      for await (const entry of listing) {
        const match = PART_NAME.exec(entry.name);
        if (!entry.isFile || !match || !uids.has(match[1]!)) continue;
        try {
          await Deno.remove(join(folder, entry.name));
          removed++;
        } catch (error) {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
        }
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
  }
  return removed;
}

/** Flushes a folder's entries to disk (best effort). */
async function syncFolder(folder: string): Promise<void> {
  try {
    const handle = await Deno.open(folder, { read: true });
    try {
      await handle.sync();
    } finally {
      handle.close();
    }
  } catch {
    // Not every platform can sync a folder; the file itself was synced.
  }
}

/** Where a custom layout puts a delivered instance, or why not. */
async function placeByLayout(
  placer: LayoutPlacer,
  instance: Rad69Instance,
  options: { resume: boolean; journal: DownloadJournal },
): Promise<
  { kind: "write"; path: string } | { kind: "settled"; entry: DownloadEntry }
> {
  const ref = instance.ref;
  let path: string;
  try {
    path = placer.place(instance);
  } catch (error) {
    if (!(error instanceof LayoutError)) throw error;
    return {
      kind: "settled",
      entry: { status: "failed", ref, path: "", error, reason: error.message },
    };
  }
  if (options.resume) {
    const size = await options.journal.verify(path, ref.instanceUid);
    if (size !== undefined) {
      return {
        kind: "settled",
        entry: { status: "skipped", ref, path, bytes: size },
      };
    }
  }
  return { kind: "write", path };
}

/**
 * With a custom layout: places each instance (held in memory: its path is
 * a function of it) and writes it whole to its temporary file; instances
 * the layout settles (a clash, a complete file on resume) are settled
 * here and not yielded.
 */
async function* placedOutcomes(
  outcomes: AsyncIterable<ExchangeOutcome<InstanceReference, Rad69Instance>>,
  context: {
    placer: LayoutPlacer;
    writers: PartWriters;
    journal: DownloadJournal;
    resume: boolean;
    settle: (entry: DownloadEntry) => void;
  },
): AsyncGenerator<ExchangeOutcome<InstanceReference, StagedFile>> {
  for await (const outcome of outcomes) {
    if (outcome.status === "failed") {
      yield outcome;
      continue;
    }
    const placed = await placeByLayout(context.placer, outcome.instance, {
      resume: context.resume,
      journal: context.journal,
    });
    if (placed.kind !== "write") {
      context.settle(placed.entry);
      continue;
    }
    yield await context.writers.stageWhole(outcome.instance, placed.path);
  }
}

/** The counts of a download, its progress reports and its report. */
class Tally {
  readonly entries: Map<string, DownloadEntry> = new Map();
  readonly attempts: AttemptReport[] = [];
  readonly #counts = { delivered: 0, skipped: 0, failed: 0 };
  #written = 0;
  #skipped = 0;
  #received = 0;
  readonly #total: number;
  readonly #started: number;
  readonly #onProgress: ((progress: DownloadProgress) => void) | undefined;

  constructor(
    total: number,
    started: number,
    onProgress: ((progress: DownloadProgress) => void) | undefined,
  ) {
    this.#total = total;
    this.#started = started;
    this.#onProgress = onProgress;
  }

  /** Records an instance's entry. */
  settle(entry: DownloadEntry): void {
    this.entries.set(entry.ref.instanceUid, entry);
    this.#counts[entry.status]++;
    if (entry.status === "delivered") this.#written += entry.bytes;
    if (entry.status === "skipped") this.#skipped += entry.bytes;
    this.progress(entry);
  }

  /** Counts body bytes. */
  received(bytes: number): void {
    this.#received += bytes;
    this.progress();
  }

  /** Reports progress (after an entry, or a byte count). */
  progress(entry?: DownloadEntry): void {
    if (!this.#onProgress) return;
    const counts = this.#counts;
    const done = counts.delivered + counts.skipped + counts.failed;
    const sized = counts.delivered + counts.skipped;
    const known = this.#written + this.#skipped;
    const value: DownloadProgress = {
      instancesTotal: this.#total,
      instancesDone: done,
      delivered: counts.delivered,
      skipped: counts.skipped,
      failed: counts.failed,
      bytesWritten: this.#written,
      bytesSkipped: this.#skipped,
      bytesReceived: this.#received,
      bytesEstimatedTotal: sized === 0
        ? undefined
        : Math.round(known + (known / sized) * (this.#total - done)),
      elapsedMs: performance.now() - this.#started,
    };
    this.#onProgress(entry ? { ...value, entry } : value);
  }

  /** The report, entries in request order. */
  report(
    dir: string,
    instances: readonly InstanceReference[],
    staleFilesRemoved: number,
  ): DownloadReport {
    const counts = this.#counts;
    return {
      dir,
      entries: instances.map((ref) => this.entries.get(ref.instanceUid)!),
      delivered: counts.delivered,
      skipped: counts.skipped,
      failed: counts.failed,
      totalBytes: this.#written,
      skippedBytes: this.#skipped,
      receivedBytes: this.#received,
      staleFilesRemoved,
      attempts: this.attempts,
      elapsedMs: performance.now() - this.#started,
      complete: counts.failed === 0,
    };
  }
}

/** Checks every UID and finds each instance's path and folder. */
function planPaths(instances: readonly InstanceReference[], root: string): {
  paths: Map<string, string>;
  byUid: Map<string, InstanceReference>;
  folders: Map<string, Set<string>>;
} {
  const paths = new Map<string, string>();
  const byUid = new Map<string, InstanceReference>();
  const folders = new Map<string, Set<string>>();
  for (const [index, ref] of instances.entries()) {
    assertPathComponent(ref.studyUid, `references[${index}].studyUid`);
    assertPathComponent(ref.seriesUid, `references[${index}].seriesUid`);
    assertPathComponent(ref.instanceUid, `references[${index}].instanceUid`);
    const path = downloadPath(root, ref);
    paths.set(ref.instanceUid, path);
    byUid.set(ref.instanceUid, ref);
    const folder = dirname(path);
    let uids = folders.get(folder);
    if (!uids) folders.set(folder, uids = new Set());
    uids.add(ref.instanceUid);
  }
  return { paths, byUid, folders };
}

/**
 * Settles one outcome of the retrieve: a staged file is journalled and
 * renamed (a file-system error fails its instance with a FileWriteError;
 * a full disk or a device error marks the download stopped).
 */
async function commitOutcome(
  outcome: ExchangeOutcome<InstanceReference, StagedFile>,
  context: {
    writers: PartWriters;
    journal: DownloadJournal;
    fsync: boolean;
    byUid: ReadonlyMap<string, InstanceReference>;
    paths: ReadonlyMap<string, string>;
    entries: ReadonlyMap<string, DownloadEntry>;
    settle: (entry: DownloadEntry) => void;
    done: { stopped?: FileWriteError };
  },
): Promise<void> {
  const { writers, settle } = context;
  const uid = outcome.ref.instanceUid;
  const ref = context.byUid.get(uid);
  if (ref === undefined || context.entries.has(uid)) {
    if (outcome.status === "delivered") {
      await writers.discard(outcome.instance.tempPath);
    }
    return;
  }
  let error: Rad69Error;
  let path = context.paths.get(uid)!;
  if (outcome.status === "delivered") {
    const staged = outcome.instance;
    path = staged.path;
    try {
      await writers.commit(staged, context.journal);
      if (context.fsync) await syncFolder(dirname(path));
      const { bytes, warnings } = staged;
      return settle({ status: "delivered", ref, path, bytes, warnings });
    } catch (cause) {
      error = toFileWriteError(cause, path, ref) ?? unexpected(cause);
    }
  } else {
    error = outcome.error;
  }
  settle({ status: "failed", ref, path, error, reason: error.message });
  if (error instanceof FileWriteError && error.stopsDownload) {
    context.done.stopped ??= error;
  }
}

/** The entry of an instance that got no outcome. */
function unsettled(
  ref: InstanceReference,
  path: string,
  stopped: FileWriteError | undefined,
): FailedEntry {
  const error = stopped
    ? new FileWriteError(
      `Instance "${ref.instanceUid}" was not downloaded: the download stopped when writing a file failed (${
        stopped.cause instanceof Error ? stopped.cause.message : stopped.code
      })`,
      { code: stopped.code, path, instance: ref, cause: stopped },
    )
    : new DocumentNotReturnedError(
      `No outcome was reported for instance "${ref.instanceUid}"`,
      { instance: ref },
    );
  return { status: "failed", ref, path, error, reason: error.message };
}

/** A failure that is not a file-system error: thrown to the caller. */
function unexpected(error: unknown): never {
  throw error;
}

/**
 * Retrieves instances through `client` and writes each delivered one to
 * `<dir>/<study>/<series>/<instance>.dcm`.
 *
 * Each file is written to a temporary name in its final folder
 * (`.<instance>.dcm.<random>.part`) and renamed once complete, so a final
 * name never holds a partial file. Temporary files of the requested
 * instances left by an interrupted run are removed first. With `resume`,
 * instances whose final file is already present and complete are skipped
 * and not requested. An existing final file is otherwise replaced.
 *
 * Every requested instance ends as exactly one entry of the report:
 * delivered, skipped, or failed with its reason. Per-instance failures never
 * throw. Each part's bytes are written to its temporary file as they leave
 * the splitter, and its head is checked (DICM, SOP Instance UID) before the
 * rename: no instance is held whole in memory (with a custom `layout`,
 * which needs the instance to name its file, each one is), and each
 * instance's memory is released as soon as its file is written, so memory
 * stays bounded by the client's window and workers plus that, not by the
 * size of the download (bench/download_rss.ts measures it).
 *
 * @param retrieve Runs the retrieve into the given sinks (the client's
 * `retrieveTo`: its retries, timeouts, concurrency and TLS apply).
 * @param refs Instances, or series/studies that list their instances.
 * @param dir The download folder (created when missing).
 * @param options Resume, progress and attempt callbacks, a signal.
 * @returns The report: one entry per instance, byte counts, attempts, time.
 * @throws {NonInstanceParameterError} When a study or series has no
 * instances (before anything is written or sent).
 * @throws {InvalidUidError} When a UID is malformed (likewise).
 * @throws {DOMException} The signal's reason when `signal` aborts; no
 * temporary file is left behind.
 * @throws {Deno.errors.NotCapable} Without read/write permission on `dir`.
 * @throws {Error} A file-system error writing a file (disk full, read-only
 * folder); the temporary file is removed first.
 *
 * @example Download a study, then resume it
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "@rad69/client";
 * import { downloadInstances } from "./download.ts";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * using client = new Rad69Client({ url: server.url });
 * const dir = await Deno.makeTempDir();
 * const refs = study.map(({ studyUid, seriesUid, instanceUid }) => ({
 *   studyUid,
 *   seriesUid,
 *   instanceUid,
 * }));
 * try {
 *   const retrieve = client.retrieveTo.bind(client);
 *   const first = await downloadInstances(retrieve, refs, dir);
 *   assert.equal(first.delivered, 2);
 *   assert.ok(first.complete);
 *   const again = await downloadInstances(retrieve, refs, dir, {
 *     resume: true,
 *   });
 *   assert.equal(again.skipped, 2);
 *   assert.equal(server.requests.length, 1); // nothing asked the second time
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function downloadInstances(
  retrieve: RetrieveToFn,
  refs: Iterable<Rad69Reference>,
  dir: string | URL,
  options: DownloadOptions = {},
): Promise<DownloadReport> {
  const started = performance.now();
  const instances = toInstanceRefs(refs);
  const root = toPath(dir);
  const signal = options.signal;
  signal?.throwIfAborted();

  const { paths, byUid, folders } = planPaths(instances, root);

  // One download per folder at a time: with the folder locked, a temporary
  // file found is an interrupted run's, never a live one.
  using _lock = await lockOutDir(root);
  const journal = await DownloadJournal.open(root);
  const placer = options.layout
    ? new LayoutPlacer(root, options.layout)
    : undefined;
  if (placer) { for (const uid of paths.keys()) paths.set(uid, ""); }
  const staleFilesRemoved = placer ? 0 : await removeStaleParts(folders);
  const tally = new Tally(instances.length, started, options.onProgress);
  const { entries, attempts } = tally;
  const settle = (entry: DownloadEntry) => tally.settle(entry);

  const wanted: InstanceReference[] = [];
  for (const ref of instances) {
    const path = paths.get(ref.instanceUid)!;
    if (options.resume && !placer) {
      signal?.throwIfAborted();
      const size = await journal.verify(path, ref.instanceUid);
      if (size !== undefined) {
        settle({ status: "skipped", ref, path, bytes: size });
        continue;
      }
    }
    wanted.push(ref);
  }

  // Parts are written to their temporary files as they arrive
  // (download/part_writer.ts); each complete, checked one is journalled and
  // renamed here. After a full disk or a device error, nothing more is
  // requested.
  const writers = new PartWriters(paths, {
    fsync: options.fsync ?? false,
    files: sinkOf(options),
  });
  const done: { stopped?: FileWriteError } = {};
  const handle = (outcome: ExchangeOutcome<InstanceReference, StagedFile>) =>
    commitOutcome(outcome, {
      writers,
      journal,
      fsync: options.fsync ?? false,
      byUid,
      paths,
      entries,
      settle,
      done,
    });

  try {
    if (wanted.length > 0) {
      const call = {
        ...(signal ? { signal } : {}),
        onAttempt: (report: AttemptReport) => {
          attempts.push(report);
          options.onAttempt?.(report);
        },
        onBytes: (n: number) => tally.received(n),
      };
      const outcomes = placer
        ? placedOutcomes(
          retrieve(wanted, (ref, doc) =>
            memoryInstanceSink(ref, doc, Number.MAX_SAFE_INTEGER), call),
          { placer, writers, journal, resume: options.resume ?? false, settle },
        )
        : retrieve(wanted, writers.open, call);
      for await (const outcome of outcomes) {
        signal?.throwIfAborted();
        if (done.stopped) break; // cancels the requests in flight
        await handle(outcome);
      }
    }
  } finally {
    // On abort or error: remove the temporary files not renamed (renamed
    // files stay: they are complete).
    await writers.discardAll();
  }

  for (const ref of wanted) {
    if (entries.has(ref.instanceUid)) continue;
    settle(unsettled(ref, paths.get(ref.instanceUid)!, done.stopped));
  }

  return tally.report(root, instances, staleFilesRemoved);
}
