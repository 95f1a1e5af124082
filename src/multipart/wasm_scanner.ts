/**
 * The WASM delimiter search engine: a SIMD (v128) scanner compiled from
 * `wasm/src/lib.rs`. This is the only module that touches raw wasm pointers.
 *
 * All engines of a thread share one wasm instance and its linear memory; each
 * engine owns its own window region inside it, allocated by the wasm module
 * and released by `[Symbol.dispose]()` (or, as a fallback, when the engine is
 * garbage collected).
 *
 * @module
 */

import * as raw from "./scanner.wasm";
import type { ScanEngine } from "./scan_engine.ts";

/** Longest needle the scanner accepts. */
const MAX_NEEDLE = 80;
/** Largest window the scanner accepts (1 GiB). */
const MAX_WINDOW = 1 << 30;

/** Frees the wasm side of engines that were never disposed. */
const leaks = new FinalizationRegistry<number>((handle) => {
  raw.engine_free(handle);
});

/**
 * A delimiter search engine backed by the SIMD WASM scanner.
 *
 * It filters 16-byte blocks on two rare-looking bytes of the needle, verifies
 * candidates with v128 compares, and switches to Knuth-Morris-Pratt when false
 * positives get dense, so `find` is linear in `to - from` on any input.
 *
 * Memory growth detaches every view of the shared wasm memory, including the
 * windows of other engines. The `window` getter always returns a live view, so
 * re-read it after `reserve()` and after anything that may have let another
 * engine reserve (an `await`, a callback); never keep it in a field.
 *
 * @example Find a delimiter
 * ```ts
 * import { WasmScanEngine } from "./wasm_scanner.ts";
 *
 * using engine = new WasmScanEngine();
 * engine.setNeedle(new TextEncoder().encode("\r\n--b"));
 * const data = new TextEncoder().encode("abc\r\n--b--");
 * engine.reserve(data.length, 0);
 * engine.window.set(data);
 * if (engine.find(0, data.length) !== 3) throw new Error("Expected 3");
 * ```
 */
export class WasmScanEngine implements ScanEngine {
  /** Always `"wasm"`. */
  readonly kind: "wasm" = "wasm";
  #handle: number;
  #needlePtr: number;
  #ptr = 0;
  #cap = 0;
  #view: Uint8Array = new Uint8Array(0);
  #hasNeedle = false;

  /**
   * Creates an engine with an empty window and no needle.
   *
   * @throws {RangeError} When the wasm memory cannot grow.
   */
  constructor() {
    const handle = raw.engine_new() >>> 0;
    if (handle === 0) {
      throw new RangeError("Cannot create a WASM scan engine: out of memory");
    }
    this.#handle = handle;
    this.#needlePtr = raw.engine_needle(handle) >>> 0;
    leaks.register(this, handle, this);
  }

  /**
   * The current window: a live view of this engine's region of wasm memory.
   *
   * @returns A view of `reserve`d length (rounded up to a power of two).
   */
  get window(): Uint8Array {
    const view = this.#view;
    return view.buffer === raw.memory.buffer ? view : this.#refresh();
  }

  /**
   * Ensures `window.length >= size`, preserving bytes `[0, keep)`.
   *
   * @param size The minimum window size in bytes (at most 1 GiB).
   * @param keep How many leading bytes must survive a reallocation.
   * @throws {RangeError} When `size` is over 1 GiB or memory cannot grow.
   */
  reserve(size: number, keep: number): void {
    if (size <= this.#cap) return;
    const handle = this.#live();
    if (!(size <= MAX_WINDOW)) {
      throw new RangeError(
        `Cannot reserve a scan window of ${size} bytes: the limit is ${MAX_WINDOW}`,
      );
    }
    const ptr = raw.engine_reserve(handle, size, keep > 0 ? keep : 0) >>> 0;
    if (ptr === 0) {
      throw new RangeError(
        `Cannot reserve a scan window of ${size} bytes: out of wasm memory`,
      );
    }
    this.#ptr = ptr;
    this.#cap = raw.engine_capacity(handle) >>> 0;
    this.#refresh();
  }

  /**
   * Sets the byte sequence to search for.
   *
   * @param needle The delimiter bytes (1 to 80).
   * @throws {RangeError} When the needle is empty or longer than 80 bytes.
   */
  setNeedle(needle: Uint8Array): void {
    const handle = this.#live();
    if (needle.length < 1 || needle.length > MAX_NEEDLE) {
      throw new RangeError(
        `Cannot set a needle of ${needle.length} bytes: expected 1 to ${MAX_NEEDLE}`,
      );
    }
    new Uint8Array(raw.memory.buffer, this.#needlePtr, MAX_NEEDLE).set(needle);
    raw.engine_set_needle(handle, needle.length);
    this.#hasNeedle = true;
  }

  /**
   * Finds the first occurrence of the needle that lies wholly inside
   * `window[from, to)`. `from` is clamped to 0 and `to` to the window length.
   *
   * @param from First index to consider.
   * @param to End of the searched range (exclusive).
   * @returns The index of the match, or -1.
   * @throws {TypeError} When no needle was set or the engine is disposed.
   */
  find(from: number, to: number): number {
    if (!this.#hasNeedle) this.#noNeedle();
    return raw.engine_find(
      this.#handle,
      from > 0 ? from : 0,
      to < this.#cap ? to : this.#cap,
    );
  }

  /** Releases the window and the wasm-side state. Idempotent. */
  [Symbol.dispose](): void {
    const handle = this.#handle;
    if (handle === 0) return;
    this.#handle = 0;
    this.#hasNeedle = false;
    this.#ptr = 0;
    this.#cap = 0;
    this.#view = new Uint8Array(0);
    leaks.unregister(this);
    raw.engine_free(handle);
  }

  /** Re-creates the window view over the current wasm memory buffer. */
  #refresh(): Uint8Array {
    return this.#view = new Uint8Array(raw.memory.buffer, this.#ptr, this.#cap);
  }

  /** The handle, or a TypeError after dispose. */
  #live(): number {
    if (this.#handle === 0) {
      throw new TypeError("Cannot use a disposed WASM scan engine");
    }
    return this.#handle;
  }

  /** Throws the error for `find` without a needle (or after dispose). */
  #noNeedle(): never {
    this.#live();
    throw new TypeError("Cannot search: no needle set, call setNeedle() first");
  }
}

/**
 * Creates a {@linkcode WasmScanEngine}.
 *
 * @returns A new engine; the caller disposes it.
 * @throws {RangeError} When the wasm memory cannot grow.
 *
 * @example Create and dispose an engine
 * ```ts
 * import { createWasmScanEngine } from "./wasm_scanner.ts";
 *
 * using engine = createWasmScanEngine();
 * if (engine.kind !== "wasm") throw new Error("Expected a wasm engine");
 * ```
 */
export function createWasmScanEngine(): WasmScanEngine {
  return new WasmScanEngine();
}
