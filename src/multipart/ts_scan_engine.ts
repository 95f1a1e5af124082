/**
 * The pure TypeScript delimiter search engine: Boyer-Moore-Horspool over a
 * growable `Uint8Array` window. It is the reference the WASM engine is
 * measured against, and the fallback where wasm is unavailable.
 *
 * @module
 */

import type { ScanEngine } from "./scan_engine.ts";

/** Longest needle the engines accept. */
const MAX_NEEDLE = 80;

/**
 * A delimiter search engine in plain TypeScript (Boyer-Moore-Horspool).
 *
 * Each window position checks the byte under the needle's last byte first,
 * then compares from the needle's start (`\r\n--`), and shifts by the bad
 * character rule. Fast on typical data; on adversarial data it degrades (to
 * one-byte shifts for delimiter-shaped needles, to O(n·m) for periodic ones).
 *
 * @example Find a delimiter
 * ```ts
 * import { TsScanEngine } from "./ts_scan_engine.ts";
 *
 * using engine = new TsScanEngine();
 * engine.setNeedle(new TextEncoder().encode("\r\n--b"));
 * const data = new TextEncoder().encode("abc\r\n--b--");
 * engine.reserve(data.length, 0);
 * engine.window.set(data);
 * if (engine.find(0, data.length) !== 3) throw new Error("Expected 3");
 * ```
 */
export class TsScanEngine implements ScanEngine {
  /** Always `"ts"`. */
  readonly kind: "ts" = "ts";
  #window: Uint8Array = new Uint8Array(0);
  #needle: Uint8Array = new Uint8Array(0);
  #skip: Uint8Array = new Uint8Array(256);

  /**
   * The current window. Re-read it after every `reserve` call.
   *
   * @returns The window (exactly the last size that grew it).
   */
  get window(): Uint8Array {
    return this.#window;
  }

  /**
   * Ensures `window.length >= size`, preserving bytes `[0, keep)`.
   *
   * @param size The minimum window size in bytes.
   * @param keep How many leading bytes must survive a reallocation.
   */
  reserve(size: number, keep: number): void {
    const old = this.#window;
    if (size <= old.length) return;
    const next = new Uint8Array(size);
    if (keep > 0) next.set(old.subarray(0, keep));
    this.#window = next;
  }

  /**
   * Sets the byte sequence to search for.
   *
   * @param needle The delimiter bytes (1 to 80).
   * @throws {RangeError} When the needle is empty or longer than 80 bytes.
   */
  setNeedle(needle: Uint8Array): void {
    const m = needle.length;
    if (m < 1 || m > MAX_NEEDLE) {
      throw new RangeError(
        `Cannot set a needle of ${m} bytes: expected 1 to ${MAX_NEEDLE}`,
      );
    }
    const skip = this.#skip;
    skip.fill(m);
    for (let i = 0; i < m - 1; i++) skip[needle[i]] = m - 1 - i;
    this.#needle = needle.slice();
  }

  /**
   * Finds the first occurrence of the needle that lies wholly inside
   * `window[from, to)`. `from` is clamped to 0 and `to` to the window length.
   *
   * @param from First index to consider.
   * @param to End of the searched range (exclusive).
   * @returns The index of the match, or -1.
   * @throws {TypeError} When no needle was set.
   */
  find(from: number, to: number): number {
    const n = this.#needle;
    const m = n.length;
    if (m === 0) {
      throw new TypeError(
        "Cannot search: no needle set, call setNeedle() first",
      );
    }
    const h = this.#window;
    const skip = this.#skip;
    const end = (to < h.length ? to : h.length) - m;
    const lastIndex = m - 1;
    const last = n[lastIndex];
    const first = n[0];
    let p = from > 0 ? from : 0;
    while (p <= end) {
      const b = h[p + lastIndex];
      if (b === last && h[p] === first) {
        let i = 1;
        while (i < lastIndex && h[p + i] === n[i]) i++;
        if (i >= lastIndex) return p;
      }
      p += skip[b];
    }
    return -1;
  }

  /** Drops the window. */
  [Symbol.dispose](): void {
    this.#window = new Uint8Array(0);
  }
}
