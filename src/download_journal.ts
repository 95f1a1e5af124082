/**
 * The proof that a downloaded file is complete: a journal,
 * `<dir>/.rad69/journal.jsonl`, gets one line per file renamed into place
 * (`{"file":"<study>/<series>/<instance>.dcm","size":…,"crc32":"…"}`),
 * and `resume` skips a file only when its size and CRC-32 match its
 * latest line. CRC-32 (zlib's, about 25 ms per GiB here against 600 ms for
 * SHA-256 on the main thread) proves a file whole against truncation and
 * corruption; it is not meant against tampering. A file with no line (written by a version without the
 * journal, or the process ended between the rename and the line) is
 * verified by a full parse instead: DICOM Part-10 to its last element, the
 * expected SOP Instance UID, and pixel data when it has image rows; then
 * it gets its line. Anything else is downloaded again.
 *
 * @module
 */

import { parsePart10 } from "./dicom.ts";
import { crc32 } from "node:zlib";
import { join, relative, sep } from "node:path";
import { STATE_DIR } from "./out_dir_lock.ts";

/** One line of the journal. */
interface JournalEntry {
  readonly size: number;
  readonly crc32: string;
}

/** Files without a journal line larger than this are downloaded again. */
const MAX_PARSED_FILE = 256 * 1024 * 1024;
const READ_CHUNK = 1024 * 1024;

/** A running CRC-32 of the bytes written to one file. */
export interface FileDigest {
  /** Adds bytes. */
  update(bytes: Uint8Array): void;
  /** The checksum, 8 hex digits. */
  hex(): string;
}

/**
 * Starts a CRC-32 of a file's bytes, fed as they are written.
 *
 * @returns The running digest.
 */
export function fileDigest(): FileDigest {
  let value = 0;
  return {
    update: (bytes) => {
      value = crc32(bytes, value);
    },
    hex: () => (value >>> 0).toString(16).padStart(8, "0"),
  };
}

/** The CRC-32 and size of a file on disk, read in chunks. */
async function digestOfFile(path: string): Promise<JournalEntry> {
  const digest = fileDigest();
  using file = await Deno.open(path, { read: true });
  const chunk = new Uint8Array(READ_CHUNK);
  let size = 0;
  for (;;) {
    const n = await file.read(chunk);
    if (n === null) break;
    digest.update(chunk.subarray(0, n));
    size += n;
  }
  return { size, crc32: digest.hex() };
}

/**
 * Whether bytes are a whole Part-10 instance of `uid`: they parse to their
 * last element, hold that SOP Instance UID, and hold pixel data when they
 * describe image rows.
 */
function parsesWhole(bytes: Uint8Array, uid: string): boolean {
  if (
    bytes.length < 132 || bytes[128] !== 0x44 || bytes[129] !== 0x49 ||
    bytes[130] !== 0x43 || bytes[131] !== 0x4d
  ) {
    return false;
  }
  try {
    const ds = parsePart10(bytes);
    if (ds.string("x00080018") !== uid) return false;
    const pixels = ["x7fe00010", "x7fe00008", "x7fe00009"].map((t) =>
      ds.elements[t]
    ).find((e) => e !== undefined);
    if (ds.elements["x00280010"] !== undefined && pixels === undefined) {
      return false;
    }
    return true; // dicom-parser throws on an element cut short
  } catch {
    return false;
  }
}

/** A download folder's journal of complete files. */
export class DownloadJournal {
  readonly #root: string;
  readonly #path: string;
  readonly #entries: Map<string, JournalEntry>;
  #appending: Promise<void> = Promise.resolve();

  /** Use {@linkcode DownloadJournal.open}. */
  constructor(root: string, entries: Map<string, JournalEntry>) {
    this.#root = root;
    this.#path = join(root, STATE_DIR, "journal.jsonl");
    this.#entries = entries;
  }

  /**
   * Reads the journal of a download folder (none yet: an empty one).
   * Malformed lines (a write cut by a crash) are skipped; a journal with
   * many superseded lines is rewritten compact.
   *
   * @param root The download folder (its `.rad69` folder exists).
   * @returns The journal.
   */
  static async open(root: string): Promise<DownloadJournal> {
    const path = join(root, STATE_DIR, "journal.jsonl");
    const entries = new Map<string, JournalEntry>();
    let lines = 0;
    let text = "";
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      lines++;
      try {
        const e = JSON.parse(line);
        if (
          typeof e.file === "string" && Number.isSafeInteger(e.size) &&
          typeof e.crc32 === "string" && /^[0-9a-f]{8}$/.test(e.crc32)
        ) {
          entries.set(e.file, { size: e.size, crc32: e.crc32 });
        }
      } catch {
        // A line cut by a crash: ignored.
      }
    }
    const journal = new DownloadJournal(root, entries);
    if (lines > 2 * entries.size + 1000) await journal.#compact();
    return journal;
  }

  /** The journal's key of a file: its path in the folder, with `/`. */
  #key(path: string): string {
    return relative(this.#root, path).split(sep).join("/");
  }

  /** Rewrites the journal with one line per file. */
  async #compact(): Promise<void> {
    const lines = [...this.#entries].map(([file, e]) =>
      JSON.stringify({ file, size: e.size, crc32: e.crc32 })
    );
    const temp = `${this.#path}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(temp, lines.join("\n") + "\n");
    await Deno.rename(temp, this.#path);
  }

  /**
   * Records a file just renamed into place (appends one line).
   *
   * @param path The file's final path.
   * @param size Its size.
   * @param checksum Its CRC-32, hex.
   */
  record(path: string, size: number, checksum: string): Promise<void> {
    const file = this.#key(path);
    this.#entries.set(file, { size, crc32: checksum });
    const line = JSON.stringify({ file, size, crc32: checksum }) + "\n";
    // Synchronous: one short append per file, in order, without the three
    // thread hops of an async open, write and close (about 1 ms a file on
    // the study bench, bench/README.md section 9).
    const next = this.#appending.then(() =>
      Deno.writeTextFileSync(this.#path, line, { append: true })
    );
    this.#appending = next.catch(() => {});
    return next;
  }

  /**
   * The size of the file at `path` when it is proved complete for
   * instance `uid` (see the module doc), else `undefined`. A file proved
   * by a parse is recorded.
   *
   * @param path The file's final path.
   * @param uid The SOP Instance UID it must hold.
   * @returns Its size, or `undefined` to download it again.
   */
  async verify(path: string, uid: string): Promise<number | undefined> {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    if (!info.isFile) return undefined;
    const entry = this.#entries.get(this.#key(path));
    if (entry !== undefined) {
      if (entry.size !== info.size) return undefined;
      const actual = await digestOfFile(path);
      return actual.crc32 === entry.crc32 && actual.size === entry.size
        ? entry.size
        : undefined;
    }
    if (info.size > MAX_PARSED_FILE) return undefined;
    const bytes = await Deno.readFile(path);
    if (!parsesWhole(bytes, uid)) return undefined;
    const digest = fileDigest();
    digest.update(bytes);
    await this.record(path, bytes.length, digest.hex());
    return bytes.length;
  }
}
