/**
 * Scan kernel benchmarks: `ScanEngine.find()` over a window that already
 * holds the data (no copy), WASM SIMD scanner vs the pure-JS
 * Boyer-Moore-Horspool loop (the baseline), plus adversarial inputs and a
 * copy+scan group in 64 KiB chunks.
 *
 *   deno bench bench/scan_kernel_bench.ts
 *
 * SCAN_BENCH_MIB (env, needs --allow-env) overrides the 512 MiB size of the
 * no-match kernel groups.
 *
 * @module
 */

import type { ScanEngine } from "../src/multipart/scan_engine.ts";
import { TsScanEngine } from "../src/multipart/ts_scan_engine.ts";
import { WasmScanEngine } from "../src/multipart/wasm_scanner.ts";

const MIB = 1 << 20;
const encoder = new TextEncoder();

/** Size of the no-match kernel groups. */
function kernelSize(): number {
  let mib = 512;
  try {
    const env = Deno.env.get("SCAN_BENCH_MIB");
    if (env) mib = Number(env);
  } catch {
    // No --allow-env: keep the default.
  }
  return mib * MIB;
}

/** xorshift32 filling `out` with pseudo-random words. */
function fillRandom(out: Uint32Array, seed: number): void {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x >>> 0;
  }
}

/** `size` random bytes. */
function randomBytes(size: number): Uint8Array {
  const words = new Uint32Array(size >>> 2);
  fillRandom(words, 0x9E3779B9);
  return new Uint8Array(words.buffer);
}

/** `size` bytes of 12-bit pixels: little-endian uint16 values below 4096. */
function pixelBytes(size: number): Uint8Array {
  const words = new Uint32Array(size >>> 2);
  fillRandom(words, 0x85EBCA6B);
  for (let i = 0; i < words.length; i++) words[i] &= 0x0FFF0FFF;
  return new Uint8Array(words.buffer);
}

/** A 70-character boundary in the style of Apache CXF / Axis2. */
const BOUNDARY =
  "uuid:0ca0e5a3-1fb1-4ab0-9a4f-77c2a0f6c1b5+id=1_MIMEBoundary_urn_uuid_Q";
if (BOUNDARY.length !== 70) throw new Error("The boundary must be 70 bytes");
const DELIMITER = encoder.encode(`\r\n--${BOUNDARY}`);
/** A short (22-byte) delimiter, below the block-skipping threshold of 32. */
const SHORT_DELIMITER = encoder.encode("\r\n--=_Part_0_1234.5678");

/** Near-miss delimiters every few bytes: `\r\n--` + a boundary prefix. */
function nearMissBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = 12345;
  let at = 0;
  while (at < size) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const cut = 4 + (x >>> 16) % (DELIMITER.length - 4); // 4..73 bytes
    const piece = DELIMITER.subarray(0, cut);
    out.set(piece.subarray(0, Math.min(cut, size - at)), at);
    at += cut;
  }
  return out;
}

/**
 * Runs of dashes just too short for the needle `--` + `dashes` (the opening
 * delimiter of an all-dash boundary, which bchars allow), of random lengths.
 */
function dashRunBytes(size: number, needleLength: number): Uint8Array {
  const out = new Uint8Array(size).fill(0x2D);
  let x = 777;
  for (let at = 0;;) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    at += needleLength / 2 + (x >>> 16) % (needleLength / 2);
    if (at >= size) return out;
    out[at] = 0x41 + (x >>> 8) % 26;
  }
}

/** An engine holding `data` in its window with `needle` set. */
function loaded(
  engine: ScanEngine,
  needle: Uint8Array,
  data: Uint8Array,
): ScanEngine {
  engine.setNeedle(needle);
  engine.reserve(data.length, 0);
  engine.window.set(data);
  const found = engine.find(0, data.length);
  if (found !== -1) {
    throw new Error(`Unexpected match at ${found} (${engine.kind})`);
  }
  return engine;
}

/** Registers the JS baseline and the WASM engine for one scenario. */
function kernelGroup(
  group: string,
  needle: Uint8Array,
  data: Uint8Array,
  n: number,
): void {
  const size = data.length;
  const ts = loaded(new TsScanEngine(), needle, data);
  const wasm = loaded(new WasmScanEngine(), needle, data);
  const label = size < MIB ? `${size / 1024} KiB` : `${size / MIB} MiB`;
  Deno.bench({
    name: `js BMH, ${label}`,
    group,
    baseline: true,
    n,
    warmup: 3,
    fn(): void {
      ts.find(0, size);
    },
  });
  Deno.bench({
    name: `wasm SIMD, ${label}`,
    group,
    n,
    warmup: 3,
    fn(): void {
      wasm.find(0, size);
    },
  });
}

const size = kernelSize();
{
  const data = randomBytes(size);
  kernelGroup("random bytes, no match", DELIMITER, data, 20);
}
{
  const data = pixelBytes(size);
  kernelGroup("12-bit pixels, no match", DELIMITER, data, 20);
}
kernelGroup(
  "adversarial: near-miss delimiters every 4..73 bytes",
  DELIMITER,
  nearMissBytes(64 * MIB),
  10,
);
for (const m of [24, 72]) {
  kernelGroup(
    `adversarial: dash runs of ${m / 2}..${m - 1} vs a ${m}-dash needle`,
    encoder.encode("-".repeat(m)),
    dashRunBytes(16 * MIB, m),
    5,
  );
}
for (const kib of [64, 1024]) {
  const n = 16_000_000 / kib;
  const random = randomBytes(kib * 1024);
  const pixels = pixelBytes(kib * 1024);
  kernelGroup("in cache: random bytes, no match", DELIMITER, random, n);
  kernelGroup("in cache: 12-bit pixels, no match", DELIMITER, pixels, n);
  if (kib === 64) {
    kernelGroup(
      "in cache: 12-bit pixels, 22-byte delimiter, no match",
      SHORT_DELIMITER,
      pixels,
      n,
    );
  }
}

/** Copy 64 KiB chunks into the window, then scan the new bytes. */
{
  const data = pixelBytes(64 * MIB);
  const chunk = 64 * 1024;
  const m = DELIMITER.length;
  for (const engine of [new TsScanEngine(), new WasmScanEngine()]) {
    engine.setNeedle(DELIMITER);
    engine.reserve(chunk + m, 0);
    Deno.bench({
      name: `${engine.kind === "ts" ? "js BMH" : "wasm SIMD"}, 64 MiB`,
      group: "copy + scan, 64 KiB chunks, 12-bit pixels",
      baseline: engine.kind === "ts",
      n: 20,
      warmup: 3,
      fn(): void {
        const window = engine.window;
        let carry = 0;
        for (let at = 0; at < data.length; at += chunk) {
          window.set(data.subarray(at, at + chunk), carry);
          const end = carry + chunk;
          if (engine.find(0, end) !== -1) throw new Error("Unexpected match");
          carry = m - 1;
          window.copyWithin(0, end - carry, end);
        }
      },
    });
  }
}
