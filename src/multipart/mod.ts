/**
 * The multipart layer on its own, for users who split MIME multipart
 * bodies themselves or measure the scanners: the streaming splitters
 * (`MultipartEventSplitter`, what the client reads every answer through:
 * heads, body pieces and ends, memory bounded by the window; and
 * `MultipartSplitter`, whole parts), the push parser under them, the delimiter scan engines (WASM SIMD and pure
 * TypeScript), and the Content-Type and Content-ID helpers.
 *
 * @example Split a body with the TypeScript engine
 * ```ts
 * import assert from "node:assert/strict";
 * import { MultipartParser } from "@rad69/client/multipart";
 *
 * using parser = new MultipartParser("b", { engine: "ts" });
 * const bodies: string[] = [];
 * parser.push(
 *   new TextEncoder().encode("--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--"),
 *   (part) => bodies.push(new TextDecoder().decode(part.body)),
 * );
 * parser.finish();
 * assert.deepEqual(bodies, ["one", "two"]);
 * ```
 *
 * @module
 */

export {
  MultipartEventSplitter,
  MultipartSplitter,
} from "./multipart_splitter.ts";
export type {
  MultipartEvent,
  MultipartEventSplitterOptions,
  MultipartSplitterOptions,
} from "./multipart_splitter.ts";
export { MultipartParser } from "./multipart_parser.ts";
export type {
  MultipartParserOptions,
  MultipartPart,
  MultipartPartHead,
  MultipartPieceHandler,
} from "./multipart_parser.ts";
export type { ScanEngine } from "./scan_engine.ts";
export { createScanEngine } from "./engines.ts";
export type { ScanEngineKind } from "./engines.ts";
export { TsScanEngine } from "./ts_scan_engine.ts";
export { createWasmScanEngine, WasmScanEngine } from "./wasm_scanner.ts";
export {
  MAX_BOUNDARY_LENGTH,
  parseMediaType,
  parseMultipartContentType,
} from "./content_type.ts";
export type { MediaType, MultipartContentType } from "./content_type.ts";
export { hrefToContentId, normalizeContentId } from "./content_id.ts";
export { parsePartHeaders } from "./part_headers.ts";
