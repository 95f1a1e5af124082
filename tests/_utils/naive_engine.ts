/**
 * A naive delimiter search engine: the obviously-correct reference for
 * differential tests.
 *
 * @module
 */

import type { ScanEngine } from "../../src/multipart/scan_engine.ts";

/** Quadratic but obviously correct ScanEngine. */
export class NaiveScanEngine implements ScanEngine {
  readonly kind = "ts" as const;
  #window = new Uint8Array(0);
  #needle = new Uint8Array(0);

  /** The window. */
  get window(): Uint8Array {
    return this.#window;
  }

  /** Grows the window, keeping its first `keep` bytes. */
  reserve(size: number, keep: number): void {
    if (this.#window.length >= size) return;
    const next = new Uint8Array(size);
    next.set(this.#window.subarray(0, keep));
    this.#window = next;
  }

  /** Sets the needle. */
  setNeedle(needle: Uint8Array): void {
    this.#needle = needle.slice();
  }

  /** Finds the needle in window[from, to). */
  find(from: number, to: number): number {
    const w = this.#window;
    const n = this.#needle;
    outer: for (let i = from; i + n.length <= to; i++) {
      for (let j = 0; j < n.length; j++) {
        if (w[i + j] !== n[j]) continue outer;
      }
      return i;
    }
    return -1;
  }

  /** Nothing to release. */
  [Symbol.dispose](): void {}
}
