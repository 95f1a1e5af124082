/**
 * Writes instances to disk as their bytes leave the splitter: each to a
 * temporary file next to its final name, `.<instance>.dcm.<random>.part`,
 * checked once complete (DICM prefix and SOP Instance UID, read from the
 * head of the file) and handed to `download()` to rename. Memory does not
 * grow with the instance size: pieces go straight to the file (synchronous
 * open, writes and rename, which the page cache absorbs far faster than
 * one async operation each: bench/README.md).
 *
 * @module
 */

import dicomParser from "dicom-parser";
import { dirname, join } from "node:path";
import { parsePart10 } from "../dicom.ts";
import {
  InvalidDicomError,
  Rad69Error,
  SopInstanceMismatchError,
} from "../errors.ts";
import {
  type DownloadJournal,
  type FileDigest,
  fileDigest,
} from "../download_journal.ts";
import {
  denoFileSink,
  type FileSink,
  type SinkFile,
  toFileWriteError,
} from "../file_sink.ts";
import type { Rad69Instance } from "../instance.ts";
import type {
  DocumentSink,
  OpenInstanceSink,
} from "../exchange/transaction.ts";
import type { ExchangeOutcome, RetrieveCallOptions } from "../outcome.ts";
import type { InstanceReference } from "../reference_types.ts";
import type { DocumentResponse, RegistryError } from "../soap/types.ts";

/** An instance written complete to its temporary file, checked. */
export interface StagedFile {
  /** The temporary file that holds it. */
  readonly tempPath: string;
  /** Where it goes. */
  readonly path: string;
  /** Its size in bytes. */
  readonly bytes: number;
  /** The CRC-32 of its bytes (hex), for the download journal. */
  readonly checksum: string;
  /** The server's warnings about it. */
  readonly warnings: readonly RegistryError[];
}

/** Options of {@linkcode PartWriters}. */
export interface PartWritersOptions {
  /** Flush each file to stable storage before it is closed. */
  fsync?: boolean;
  /** Where files are created (the real file system by default). */
  files?: FileSink;
}

/** The head kept in memory to find the SOP Instance UID. */
const HEAD_BYTES = 64 * 1024;
/** How far into the file the UID is looked for when the head is short. */
const MAX_HEAD_BYTES = 1024 * 1024;
const DICM = [0x44, 0x49, 0x43, 0x4d];

/** A random lowercase hex string of `bytes` bytes. */
function randomHex(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(raw, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The SOP Instance UID in the head of a Part-10 file: (0008,0018), else
 * the file meta's Media Storage SOP Instance UID (0002,0003), which is
 * readable without inflating a deflated dataset. `undefined` when the head
 * does not show it.
 */
function headSopInstanceUid(head: Uint8Array): string | undefined {
  try {
    const ds = parsePart10(head, { untilTag: "x00080018", partial: true });
    const uid = ds.string("x00080018") ?? ds.string("x00020003");
    if (uid) return uid;
  } catch {
    // A head cut inside an element: the file meta may still tell.
  }
  try {
    return dicomParser.readPart10Header(head).string("x00020003") || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The temporary files of one download: opens a sink per instance, and
 * keeps the names of the files not yet renamed, to remove them when the
 * download stops.
 *
 * @example Write an instance, then move it into place
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { syntheticStudy } from "@rad69/client/testing";
 * import { crc32 } from "node:zlib";
 * import { PartWriters } from "./part_writer.ts";
 *
 * const [instance] = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * const dir = await Deno.makeTempDir();
 * try {
 *   const path = join(dir, "a", `${instance!.instanceUid}.dcm`);
 *   const writers = new PartWriters(new Map([[instance!.instanceUid, path]]));
 *   const doc = { documentUniqueId: instance!.instanceUid, repositoryUniqueId: "", mimeType: "" };
 *   const sink = await writers.open(instance!, doc);
 *   sink.write(instance!.bytes.subarray(0, 1000));
 *   sink.write(instance!.bytes.subarray(1000));
 *   const staged = await sink.close([]);
 *   const lines: string[] = [];
 *   const journal = {
 *     record: async (file: string, size: number, checksum: string) => {
 *       lines.push(`${file} ${size} ${checksum}`);
 *     },
 *   };
 *   await writers.commit(staged, journal);
 *   assert.deepEqual(await Deno.readFile(path), instance!.bytes);
 *   const crc = crc32(instance!.bytes).toString(16).padStart(8, "0");
 *   assert.deepEqual(lines, [`${path} ${instance!.bytes.length} ${crc}`]);
 *   assert.equal(writers.inFlight.size, 0);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export class PartWriters {
  /** Temporary files written or being written, not yet renamed. */
  readonly inFlight: Set<string> = new Set();
  readonly #paths: ReadonlyMap<string, string>;
  readonly #fsync: boolean;
  readonly #files: FileSink;
  readonly #made = new Set<string>();
  /** Head buffers of closed sinks, reused (no fresh pages per instance). */
  readonly #heads: Uint8Array[] = [];

  /**
   * @param paths The final path of each instance, by SOP Instance UID.
   * @param options `fsync`.
   */
  constructor(
    paths: ReadonlyMap<string, string>,
    options: PartWritersOptions = {},
  ) {
    this.#paths = paths;
    this.#fsync = options.fsync ?? false;
    this.#files = options.files ?? denoFileSink;
  }

  /**
   * Opens the temporary file of an instance (creating its folder).
   *
   * @param ref The instance.
   * @param doc Its DocumentResponse.
   * @returns Its sink.
   * @throws {FileWriteError} A file-system error (the instance fails).
   * @throws {TypeError} For an instance without a path.
   */
  readonly open = (
    ref: InstanceReference,
    doc: DocumentResponse,
  ): Promise<DocumentSink<StagedFile>> => {
    const path = this.#paths.get(ref.instanceUid);
    if (path === undefined || path === "") {
      throw new TypeError(`No download path for "${ref.instanceUid}"`);
    }
    return this.#openAt(ref, doc.documentUniqueId, path);
  };

  /**
   * Writes an instance held in memory to its temporary file (a custom
   * layout names the file only once the instance is there).
   *
   * @param instance The instance.
   * @param path Where it goes.
   * @returns Its outcome: staged, or failed (a file-system error).
   */
  async stageWhole(
    instance: Rad69Instance,
    path: string,
  ): Promise<ExchangeOutcome<InstanceReference, StagedFile>> {
    const ref = instance.ref;
    let sink: DocumentSink<StagedFile> | undefined;
    try {
      sink = await this.#openAt(ref, ref.instanceUid, path);
      await sink.write(instance.bytes);
      const staged = await sink.close(instance.warnings);
      return { status: "delivered", ref, instance: staged };
    } catch (error) {
      await sink?.abort();
      if (error instanceof Rad69Error) return { status: "failed", ref, error };
      throw error;
    }
  }

  async #openAt(
    ref: InstanceReference,
    uid: string,
    path: string,
  ): Promise<DocumentSink<StagedFile>> {
    const folder = dirname(path);
    const temp = join(folder, `.${ref.instanceUid}.dcm.${randomHex(6)}.part`);
    try {
      if (!this.#made.has(folder)) {
        Deno.mkdirSync(folder, { recursive: true });
        this.#made.add(folder);
      }
      this.inFlight.add(temp);
      const file = await this.#files.create(temp);
      const head = this.#heads.pop() ?? new Uint8Array(HEAD_BYTES);
      return new TempFileSink(this, file, { temp, path, ref, uid }, head);
    } catch (error) {
      this.inFlight.delete(temp);
      throw toFileWriteError(error, path, ref) ?? error;
    }
  }

  /** Whether files are flushed before they are closed. */
  get fsync(): boolean {
    return this.#fsync;
  }

  /**
   * Moves a staged file to its final name: its journal line first (a file
   * under its final name always has one; a line without its file is
   * harmless, resume checks the hash), then the rename.
   *
   * @param staged The file.
   * @param journal The download's journal.
   * @throws {Error} A file-system error; the temporary file is removed.
   */
  async commit(
    staged: StagedFile,
    journal: Pick<DownloadJournal, "record">,
  ): Promise<void> {
    try {
      await journal.record(staged.path, staged.bytes, staged.checksum);
      Deno.renameSync(staged.tempPath, staged.path);
    } catch (error) {
      await this.discard(staged.tempPath);
      throw error;
    }
    this.inFlight.delete(staged.tempPath);
  }

  /**
   * Removes a temporary file (best effort).
   *
   * @param temp Its path.
   */
  async discard(temp: string): Promise<void> {
    await Deno.remove(temp).catch(() => {});
    this.inFlight.delete(temp);
  }

  /**
   * Takes back the head buffer of a closed sink.
   *
   * @param head The buffer.
   */
  recycle(head: Uint8Array): void {
    if (this.#heads.length < 16) this.#heads.push(head);
  }

  /** Removes every temporary file not renamed. */
  async discardAll(): Promise<void> {
    for (const temp of [...this.inFlight]) await this.discard(temp);
  }
}

/** Where a sink writes, and for what. */
interface Target {
  readonly temp: string;
  readonly path: string;
  readonly ref: InstanceReference;
  readonly uid: string;
}

/**
 * The sink of one instance: its temporary file. It keeps no piece: each is
 * written (synchronously when the file can) before `write` returns, and the
 * head is copied, so the exchange may free a chunk's buffer at once
 * (`copies`). File-system errors become a `FileWriteError` of the instance.
 */
class TempFileSink implements DocumentSink<StagedFile> {
  readonly copies = true;
  readonly #writers: PartWriters;
  readonly #file: SinkFile;
  readonly #target: Target;
  readonly #digest: FileDigest = fileDigest();
  /** A copy of the first bytes, for the head check. */
  readonly #head: Uint8Array;
  #size = 0;
  #closed = false;

  constructor(
    writers: PartWriters,
    file: SinkFile,
    target: Target,
    head: Uint8Array,
  ) {
    this.#writers = writers;
    this.#file = file;
    this.#target = target;
    this.#head = head;
  }

  write(bytes: Uint8Array): void | Promise<void> {
    if (this.#size < HEAD_BYTES) {
      const take = Math.min(bytes.length, HEAD_BYTES - this.#size);
      this.#head.set(bytes.subarray(0, take), this.#size);
    }
    this.#size += bytes.length;
    this.#digest.update(bytes);
    const file = this.#file;
    if (file.writeSync) {
      try {
        return file.writeSync(bytes);
      } catch (error) {
        throw this.#typed(error);
      }
    }
    return file.write(bytes).catch((error) => {
      throw this.#typed(error);
    });
  }

  async close(warnings: readonly RegistryError[]): Promise<StagedFile> {
    try {
      this.#check();
    } finally {
      this.#writers.recycle(this.#head);
    }
    try {
      if (this.#writers.fsync) await this.#file.sync();
      this.#closeFile();
    } catch (error) {
      throw this.#typed(error);
    }
    const { temp, path } = this.#target;
    const checksum = this.#digest.hex();
    return { tempPath: temp, path, bytes: this.#size, checksum, warnings };
  }

  async abort(): Promise<void> {
    this.#closeFile();
    await this.#writers.discard(this.#target.temp);
  }

  /** A file-system error as the instance's FileWriteError. */
  #typed(error: unknown): unknown {
    return toFileWriteError(error, this.#target.path, this.#target.ref) ??
      error;
  }

  #closeFile(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#file.close();
    } catch {
      // Already closed.
    }
  }

  /** Reads back up to MAX_HEAD_BYTES of the file (for a long head). */
  #readBack(): Uint8Array {
    using file = Deno.openSync(this.#target.temp, { read: true });
    const head = new Uint8Array(Math.min(this.#size, MAX_HEAD_BYTES));
    let got = 0;
    while (got < head.length) {
      const n = file.readSync(head.subarray(got));
      if (n === null) break;
      got += n;
    }
    return head.subarray(0, got);
  }

  /** Checks the DICM prefix and the SOP Instance UID in the head. */
  #check(): void {
    const { uid, ref } = this.#target;
    const options = { instance: ref };
    let head = this.#head.subarray(0, Math.min(this.#size, HEAD_BYTES));
    if (head.length < 132) {
      throw new InvalidDicomError(
        uid,
        `only ${this.#size} bytes, too short for a Part-10 file`,
        options,
      );
    }
    if (DICM.some((byte, i) => head[128 + i] !== byte)) {
      const start = new TextDecoder("latin1").decode(head.subarray(0, 24));
      throw new InvalidDicomError(
        uid,
        `no "DICM" prefix at byte 128 (starts with ${JSON.stringify(start)})`,
        options,
      );
    }
    let sop = headSopInstanceUid(head);
    if (sop === undefined && this.#size > head.length) {
      head = this.#readBack();
      sop = headSopInstanceUid(head);
    }
    if (sop === undefined) {
      throw new InvalidDicomError(
        uid,
        `no SOP Instance UID (0008,0018) in its first ${head.length} bytes`,
        options,
      );
    }
    if (sop !== uid) throw new SopInstanceMismatchError(uid, sop, options);
  }
}

/**
 * Runs a retrieve whose instances are written to the sinks `open` gives
 * (`Rad69Client.retrieveTo()`): what `download()` takes, not the client.
 */
export type RetrieveToFn = <Delivered>(
  refs: readonly InstanceReference[],
  open: OpenInstanceSink<Delivered>,
  options: RetrieveCallOptions,
) => AsyncIterable<ExchangeOutcome<InstanceReference, Delivered>>;
