/**
 * The contract between the multipart splitter and a delimiter search engine
 * (pure TypeScript or WASM). The engine owns one reusable window of bytes:
 * the splitter copies incoming chunks into it and asks the engine to find the
 * delimiter inside it.
 *
 * @module
 */

/**
 * A delimiter search engine over a reusable byte window.
 *
 * The splitter uses it like this:
 * 1. `setNeedle(delimiter)` once the delimiter is known (may be called again
 *    to switch, e.g. from `--boundary` to `\r\n--boundary`).
 * 2. `reserve(size, keep)` to make `window.length >= size`, keeping the first
 *    `keep` bytes. Views may be re-created: always re-read `window` after it.
 * 3. copy input into `window`, then `find(from, to)`.
 *
 * @example Drive an engine as the splitter does
 * ```ts
 * import assert from "node:assert/strict";
 * import { createScanEngine } from "./engines.ts";
 * import { type ScanEngine } from "./scan_engine.ts";
 *
 * function findAll(engine: ScanEngine, data: Uint8Array): number[] {
 *   engine.reserve(data.length, 0);
 *   engine.window.set(data); // re-read window after reserve()
 *   const found: number[] = [];
 *   for (let at = engine.find(0, data.length); at >= 0;) {
 *     found.push(at);
 *     at = engine.find(at + 1, data.length);
 *   }
 *   return found;
 * }
 * using engine = createScanEngine("ts");
 * engine.setNeedle(new TextEncoder().encode("\r\n--b"));
 * const data = new TextEncoder().encode("x\r\n--b\r\ny\r\n--b--");
 * assert.deepEqual(findAll(engine, data), [1, 9]);
 * ```
 */
export interface ScanEngine extends Disposable {
  /** Which implementation this is. */
  readonly kind: "ts" | "wasm";
  /** The current window. Re-read after every `reserve` call. */
  readonly window: Uint8Array;
  /**
   * Ensures `window.length >= size`, preserving bytes `[0, keep)`.
   *
   * @param size The minimum window size in bytes.
   * @param keep How many leading bytes must survive a reallocation.
   */
  reserve(size: number, keep: number): void;
  /**
   * Sets the byte sequence to search for (1 to 80 bytes).
   *
   * @param needle The delimiter bytes.
   */
  setNeedle(needle: Uint8Array): void;
  /**
   * Finds the first occurrence of the needle that lies wholly inside
   * `window[from, to)`.
   *
   * @param from First index to consider.
   * @param to End of the searched range (exclusive).
   * @returns The index of the match, or -1.
   */
  find(from: number, to: number): number;
}
