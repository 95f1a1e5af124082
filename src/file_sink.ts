/**
 * The seam through which downloads write files: the real file system by
 * default, a failing one in tests (a full disk, an I/O error), and the
 * translation of a system error into a per-instance `FileWriteError`.
 *
 * @module
 */

import { FileWriteError } from "./errors.ts";
import type { InstanceReference } from "./references.ts";

/** A file open for writing, as a download writes it. */
export interface SinkFile {
  /** Writes every byte. */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Writes every byte before returning, when the file can: a page-cache
   * write is far cheaper synchronous than as an async operation (bench/
   * README.md, section 7), so downloads use it when it is there.
   */
  writeSync?(bytes: Uint8Array): void;
  /** Flushes the file to stable storage. */
  sync(): Promise<void>;
  /** Closes the file. */
  close(): void;
}

/** Where a download's files are written. */
export interface FileSink {
  /** Creates a new file (never an existing one) for writing. */
  create(path: string): Promise<SinkFile>;
}

/**
 * The key under which tests pass a {@linkcode FileSink} in the options of
 * `downloadInstances()` (internal: not part of the public options).
 */
export const FILE_SINK: unique symbol = Symbol("rad69.fileSink");

/** The real file system. */
export const denoFileSink: FileSink = {
  create(path: string): Promise<SinkFile> {
    // Synchronous open too: an async one cost a thread hop per file that,
    // with requests in flight, took longer than the open itself.
    const file = Deno.openSync(path, { write: true, createNew: true });
    return Promise.resolve({
      async write(bytes: Uint8Array): Promise<void> {
        let at = 0;
        while (at < bytes.length) at += await file.write(bytes.subarray(at));
      },
      writeSync(bytes: Uint8Array): void {
        let at = 0;
        while (at < bytes.length) at += file.writeSync(bytes.subarray(at));
      },
      sync: () => file.sync(),
      close: () => file.close(),
    });
  },
};

/** The sink given in some options under {@linkcode FILE_SINK}, or the real one. */
export function sinkOf(options: object): FileSink {
  const sink = (options as { [FILE_SINK]?: FileSink })[FILE_SINK];
  return sink ?? denoFileSink;
}

/** The system error code of a file-system error, or `""`. */
function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^E[A-Z0-9]+$/.test(code)) return code;
  if (error instanceof Deno.errors.PermissionDenied) return "EACCES";
  if (error instanceof Deno.errors.NotFound) return "ENOENT";
  if (error instanceof Deno.errors.IsADirectory) return "EISDIR";
  if (error instanceof Deno.errors.NotADirectory) return "ENOTDIR";
  const os = /\(os error (\d+)\)/.exec(String((error as Error)?.message));
  return os?.[1] === "28" ? "ENOSPC" : os?.[1] === "5" ? "EIO" : "";
}

/**
 * The error an instance fails with when writing its file failed, or
 * `undefined` when `error` is not a file-system error (a missing
 * permission, `NotCapable`, or a bug: those are thrown).
 *
 * @param error What writing threw.
 * @param path The file being written (its final path).
 * @param ref The instance.
 * @returns The per-instance error.
 */
export function toFileWriteError(
  error: unknown,
  path: string,
  ref: InstanceReference,
): FileWriteError | undefined {
  if (error instanceof FileWriteError) return error;
  if (error instanceof Deno.errors.NotCapable) return undefined;
  if (!(error instanceof Error)) return undefined;
  const code = codeOf(error);
  if (code === "" && !(error.constructor.name in Deno.errors)) return undefined;
  return new FileWriteError(
    `Cannot write instance "${ref.instanceUid}" to "${path}": ${error.message}`,
    { code, path, instance: ref, cause: error },
  );
}
