/**
 * Creation of delimiter search engines by kind.
 *
 * @module
 */

import type { ScanEngine } from "./scan_engine.ts";
import { TsScanEngine } from "./ts_scan_engine.ts";
import { WasmScanEngine } from "./wasm_scanner.ts";

/**
 * The available delimiter search engines: `"wasm"` (SIMD, the default) and
 * `"ts"` (pure TypeScript).
 *
 * @example Both engines find the same delimiter
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ScanEngineKind } from "@rad69/client";
 * import { MultipartParser } from "./multipart_parser.ts";
 *
 * const body = new TextEncoder().encode("--b\r\n\r\none\r\n--b--");
 * const kinds: ScanEngineKind[] = ["wasm", "ts"];
 * for (const engine of kinds) {
 *   using parser = new MultipartParser("b", { engine });
 *   assert.equal(parser.engineKind, engine);
 *   parser.push(body, (part) => assert.equal(part.body.length, 3));
 *   parser.finish();
 *   assert.equal(parser.partCount, 1);
 * }
 * ```
 */
export type ScanEngineKind = "wasm" | "ts";

/**
 * Creates a delimiter search engine.
 *
 * @param kind `"wasm"` (SIMD scanner compiled from Rust) or `"ts"` (pure
 * TypeScript Boyer-Moore-Horspool).
 * @returns A new engine; the caller disposes it.
 * @throws {TypeError} For an unknown kind.
 *
 * @example Search a window for a delimiter
 * ```ts
 * import assert from "node:assert/strict";
 * import { createScanEngine } from "./engines.ts";
 *
 * using engine = createScanEngine("wasm");
 * engine.setNeedle(new TextEncoder().encode("--b"));
 * engine.reserve(16, 0);
 * engine.window.set(new TextEncoder().encode("xx--b"));
 * assert.equal(engine.find(0, 5), 2);
 * assert.equal(engine.find(3, 5), -1);
 * ```
 */
export function createScanEngine(kind: ScanEngineKind): ScanEngine {
  switch (kind) {
    case "wasm":
      return new WasmScanEngine();
    case "ts":
      return new TsScanEngine();
    default:
      throw new TypeError(
        `Unknown scan engine "${String(kind)}": expected "wasm" or "ts"`,
      );
  }
}
