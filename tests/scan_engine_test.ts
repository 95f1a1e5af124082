import assert from "node:assert/strict";
import type { ScanEngine } from "../src/multipart/scan_engine.ts";
import { TsScanEngine } from "../src/multipart/ts_scan_engine.ts";
import {
  createWasmScanEngine,
  WasmScanEngine,
} from "../src/multipart/wasm_scanner.ts";
import { memory } from "../src/multipart/scanner.wasm";
import { NaiveScanEngine } from "./_utils/naive_engine.ts";

const encoder = new TextEncoder();

/** Small seeded PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random integer in [lo, hi]. */
function int(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

/** Random bytes drawn from `alphabet` (or any byte when it is empty). */
function bytes(
  rand: () => number,
  n: number,
  alphabet: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = alphabet.length === 0
      ? int(rand, 0, 255)
      : alphabet[int(rand, 0, alphabet.length - 1)];
  }
  return out;
}

/** A delimiter-shaped needle: `\r\n--` plus a bchars boundary. */
function delimiter(boundary: string): Uint8Array {
  return encoder.encode(`\r\n--${boundary}`);
}

const BCHARS =
  "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=?";

/** The three engines under comparison, with one needle and one haystack. */
class Trio {
  readonly engines: ScanEngine[] = [
    new NaiveScanEngine(),
    new TsScanEngine(),
    new WasmScanEngine(),
  ];

  load(needle: Uint8Array, hay: Uint8Array): void {
    for (const e of this.engines) {
      e.setNeedle(needle);
      e.reserve(hay.length, 0);
      e.window.set(hay);
    }
  }

  /** Asserts all engines agree on `find(from, to)`; returns the answer. */
  find(from: number, to: number, label = ""): number {
    const [naive, ts, wasm] = this.engines.map((e) => e.find(from, to));
    assert.equal(ts, naive, `ts vs naive at find(${from}, ${to}) ${label}`);
    assert.equal(wasm, naive, `wasm vs naive at find(${from}, ${to}) ${label}`);
    return naive;
  }

  /** Checks `find(from, to)` with the naive answer's successors too. */
  findAll(from: number, to: number, label = ""): number[] {
    const found: number[] = [];
    let at = from;
    for (;;) {
      const i = this.find(at, to, label);
      if (i < 0) return found;
      found.push(i);
      at = i + 1;
    }
  }

  [Symbol.dispose](): void {
    for (const e of this.engines) e[Symbol.dispose]();
  }
}

Deno.test("WasmScanEngine.find() matches TsScanEngine and a naive scan on random data", () => {
  using trio = new Trio();
  const rand = prng(1);
  const alphabets = [
    new Uint8Array(0),
    encoder.encode("ab"),
    encoder.encode("\r\n-ab"),
    encoder.encode("\r\n-"),
    encoder.encode("a"),
  ];
  for (let round = 0; round < 10_000; round++) {
    const alphabet = alphabets[round % alphabets.length];
    const m = int(rand, 1, 80);
    const needle = bytes(rand, m, alphabet);
    const hay = bytes(
      rand,
      int(rand, 0, round % 10 === 0 ? 5000 : 400),
      alphabet,
    );
    const plants = int(rand, 0, 3);
    for (let k = 0; k < plants && hay.length >= m; k++) {
      hay.set(needle, int(rand, 0, hay.length - m));
    }
    trio.load(needle, hay);
    trio.findAll(0, hay.length, `round ${round}`);
    for (let q = 0; q < 4; q++) {
      const from = int(rand, 0, hay.length);
      const to = int(rand, from, hay.length);
      trio.find(from, to, `round ${round}`);
    }
  }
});

Deno.test("WasmScanEngine.find() agrees on long haystacks with dense candidates", () => {
  using trio = new Trio();
  const rand = prng(2);
  for (let round = 0; round < 60; round++) {
    const alphabet = round % 2
      ? encoder.encode("ab")
      : encoder.encode("\r\n-x");
    const needle = bytes(rand, int(rand, 2, 80), alphabet);
    const hay = bytes(rand, int(rand, 10_000, 70_000), alphabet);
    hay.set(needle, hay.length - needle.length - int(rand, 0, 3));
    trio.load(needle, hay);
    const i = trio.find(0, hay.length, `round ${round}`);
    assert.ok(i >= 0);
    trio.find(int(rand, 0, i + 1), hay.length, `round ${round}`);
    trio.find(i + 1, hay.length, `round ${round}`);
  }
});

Deno.test("WasmScanEngine.find() finds a delimiter at every offset", () => {
  using trio = new Trio();
  const rand = prng(3);
  for (const m of [1, 2, 3, 15, 16, 17, 31, 32, 33, 74, 80]) {
    const boundary = Array.from(
      { length: Math.max(0, m - 4) },
      () => BCHARS[int(rand, 0, BCHARS.length - 1)],
    ).join("");
    const needle = delimiter(boundary).subarray(0, m);
    const base = bytes(rand, 300, new Uint8Array(0));
    for (let k = 0; k + m <= base.length; k++) {
      const hay = base.slice();
      hay.set(needle, k);
      trio.load(needle, hay);
      const at = trio.find(0, hay.length);
      assert.ok(at >= 0 && at <= k);
      if (at !== k) continue; // the random bytes happened to contain it
      assert.equal(trio.find(k, k + m), k);
      assert.equal(trio.find(k, k + m - 1), -1);
      assert.equal(trio.find(k + 1, k + m), -1);
      trio.find(k + 1, hay.length);
      trio.find(Math.max(0, k - 17), k + m);
      trio.find(0, k + m);
    }
  }
});

Deno.test("WasmScanEngine.find() handles needles of every length 1..80", () => {
  using trio = new Trio();
  const rand = prng(4);
  for (let m = 1; m <= 80; m++) {
    for (const alphabet of [new Uint8Array(0), encoder.encode("\r\n-a")]) {
      const needle = bytes(rand, m, alphabet);
      const hay = bytes(rand, 1000, alphabet);
      hay.set(needle, 0);
      hay.set(needle, 500 - (m >> 1));
      hay.set(needle, hay.length - m);
      trio.load(needle, hay);
      const found = trio.findAll(0, hay.length, `m=${m}`);
      assert.ok(found.includes(0) && found.includes(hay.length - m));
    }
  }
});

Deno.test("WasmScanEngine.find() rejects near misses", () => {
  using trio = new Trio();
  const needle = delimiter(
    "uuid:0ca0e5a3-1fb1-4ab0-9a4f-77c2a0f6c1b5+id=1_part_boundary_xyz",
  );
  const m = needle.length;
  // The needle with each single byte changed, back to back, then the needle.
  const hay = new Uint8Array(m * (m + 1));
  for (let i = 0; i < m; i++) {
    const miss = needle.slice();
    miss[i] ^= 0x20;
    hay.set(miss, i * m);
  }
  hay.set(needle, m * m);
  trio.load(needle, hay);
  assert.equal(trio.find(0, hay.length), m * m);
  assert.equal(trio.find(0, hay.length - 1), -1);
  for (let from = 0; from < m * m; from += 7) trio.find(from, hay.length);
});

Deno.test("WasmScanEngine.find() handles repeated delimiter prefixes", () => {
  using trio = new Trio();
  const boundary =
    "boundary_0123456789_abcdefghij_ABCDEFGHIJ_0123456789_abcdefghij_ABCDEF";
  assert.equal(boundary.length, 70);
  const needle = delimiter(boundary);
  for (let cut = 1; cut < needle.length; cut++) {
    const prefix = needle.subarray(0, cut);
    const reps = Math.ceil(4000 / cut);
    const hay = new Uint8Array(reps * cut + needle.length);
    for (let r = 0; r < reps; r++) hay.set(prefix, r * cut);
    hay.set(needle, reps * cut);
    trio.load(needle, hay);
    assert.equal(trio.find(0, hay.length, `cut ${cut}`), reps * cut);
    trio.find(0, hay.length - 1, `cut ${cut}`);
  }
  // Every byte of a one-letter boundary is a filter candidate.
  const dashes = delimiter("-".repeat(70));
  const hay = encoder.encode(
    "\r\n--".concat("-".repeat(69), "\r\n", "-".repeat(3000), "\r\n").repeat(
      20,
    ),
  );
  const full = new Uint8Array(hay.length + dashes.length);
  full.set(hay);
  full.set(dashes, hay.length);
  trio.load(dashes, full);
  assert.equal(trio.find(0, full.length), 73);
  trio.findAll(0, full.length);
});

Deno.test("WasmScanEngine.find() scans up to the very end of a full window", () => {
  using trio = new Trio();
  const rand = prng(7);
  for (let size = 64; size <= 1 << 16; size *= 2) {
    for (const alphabet of [encoder.encode("ab"), new Uint8Array(0)]) {
      for (const m of [1, 5, 16, 17, 40, 80]) {
        if (m > size) continue;
        const needle = bytes(rand, m, alphabet);
        const hay = bytes(rand, size, alphabet);
        for (const tail of [0, 1, 15]) {
          const at = size - m - tail;
          if (at < 0) continue;
          hay.set(needle, at);
          trio.load(needle, hay);
          assert.equal(trio.engines[2].window.length, size);
          trio.findAll(0, size, `size ${size} m ${m}`);
          trio.find(Math.max(0, at - 3), size);
          trio.find(at, size - 1);
        }
      }
    }
  }
});

Deno.test("WasmScanEngine.find() respects from/to edges", () => {
  using trio = new Trio();
  const needle = delimiter("b");
  const hay = encoder.encode("\r\n--bxx\r\n--b\r\n--");
  trio.load(needle, hay);
  assert.equal(trio.find(0, hay.length), 0);
  assert.equal(trio.find(0, 5), 0);
  assert.equal(trio.find(0, 4), -1);
  assert.equal(trio.find(1, hay.length), 7);
  assert.equal(trio.find(7, 12), 7);
  assert.equal(trio.find(7, 11), -1);
  assert.equal(trio.find(8, hay.length), -1);
  assert.equal(trio.find(5, 5), -1);
  assert.equal(trio.find(9, 3), -1);
  assert.equal(trio.find(hay.length, hay.length), -1);
  for (const e of trio.engines.slice(1)) {
    // Clamping beyond the reference's contract.
    assert.equal(e.find(-5, hay.length), 0);
    assert.equal(e.find(1, e.window.length + 100), 7);
  }
});

Deno.test("WasmScanEngine.reserve() grows the window and keeps leading bytes", () => {
  const rand = prng(5);
  for (const engine of [new TsScanEngine(), new WasmScanEngine()]) {
    using _ = engine;
    engine.setNeedle(delimiter("growth"));
    let expected: Uint8Array = new Uint8Array(0);
    for (let size = 10; size < 3_000_000; size = Math.ceil(size * 2.7)) {
      const keep = Math.min(expected.length, int(rand, 0, 5000));
      engine.reserve(size, keep);
      const window = engine.window;
      assert.ok(window.length >= size, `${engine.kind} window ${size}`);
      assert.deepEqual(window.subarray(0, keep), expected.subarray(0, keep));
      expected = bytes(rand, size, new Uint8Array(0));
      window.set(expected);
      engine.reserve(size - 1, 0); // no-op
      assert.equal(engine.window, window);
    }
    const w = engine.window;
    w.set(delimiter("growth"), 12345);
    assert.equal(engine.find(0, expected.length), 12345);
  }
});

Deno.test("WasmScanEngine instances do not clobber each other", () => {
  const rand = prng(6);
  const engines = Array.from({ length: 6 }, () => createWasmScanEngine());
  const needles = engines.map((_, i) =>
    delimiter(`engine-${i}-`.repeat(i + 1))
  );
  const hays: Uint8Array[] = engines.map(() => new Uint8Array(0));
  try {
    for (let round = 0; round < 40; round++) {
      const k = int(rand, 0, engines.length - 1);
      const e = engines[k];
      // Grow (moving this window, maybe growing memory and detaching every
      // other engine's view), then refill.
      const size = int(rand, 1000, 1 << (12 + (round % 9)));
      const keep = Math.min(hays[k].length, size);
      e.reserve(size, keep);
      assert.deepEqual(e.window.subarray(0, keep), hays[k].subarray(0, keep));
      const hay = bytes(rand, size, new Uint8Array(0));
      const at = int(rand, 0, size - needles[k].length);
      hay.set(needles[k], at);
      e.setNeedle(needles[k]);
      e.window.set(hay);
      hays[k] = hay;
      for (let j = 0; j < engines.length; j++) {
        if (hays[j].length === 0) continue;
        const w = engines[j].window;
        assert.deepEqual(w.subarray(0, hays[j].length), hays[j], `engine ${j}`);
        const expected = new NaiveScanEngine();
        expected.setNeedle(needles[j]);
        expected.reserve(hays[j].length, 0);
        expected.window.set(hays[j]);
        assert.equal(
          engines[j].find(0, hays[j].length),
          expected.find(0, hays[j].length),
        );
      }
    }
  } finally {
    for (const e of engines) e[Symbol.dispose]();
  }
});

Deno.test("WasmScanEngine.window stays live when another engine grows memory", () => {
  using a = new WasmScanEngine();
  using b = new WasmScanEngine();
  const needle = delimiter("live");
  a.setNeedle(needle);
  a.reserve(1000, 0);
  const old = a.window;
  old.set(needle, 900);
  b.reserve(memory.buffer.byteLength + (1 << 20), 0); // must grow memory
  assert.equal(old.byteLength, 0, "growth detaches views held across calls");
  assert.notEqual(a.window, old);
  assert.equal(a.window.length, 1024);
  assert.deepEqual(a.window.subarray(900, 900 + needle.length), needle);
  assert.equal(a.find(0, 1000), 900);
});

Deno.test("WasmScanEngine[Symbol.dispose]() lets later engines reuse memory", () => {
  const before = memory.buffer.byteLength;
  for (let i = 0; i < 200; i++) {
    using e = new WasmScanEngine();
    e.reserve(4 << 20, 0);
    e.setNeedle(delimiter("x"));
    e.window.set(delimiter("x"), 100);
    assert.equal(e.find(0, 1000), 100);
  }
  const grown = memory.buffer.byteLength - before;
  assert.ok(grown <= 8 << 20, `memory grew by ${grown} bytes`);
});

Deno.test("WasmScanEngine rejects bad input with typed errors", () => {
  for (const engine of [new TsScanEngine(), new WasmScanEngine()]) {
    assert.throws(() => engine.find(0, 0), TypeError);
    assert.throws(() => engine.setNeedle(new Uint8Array(0)), RangeError);
    assert.throws(() => engine.setNeedle(new Uint8Array(81)), RangeError);
    engine.setNeedle(new Uint8Array(80));
    assert.equal(engine.find(0, 0), -1);
    engine[Symbol.dispose]();
    engine[Symbol.dispose]();
  }
  const wasm = new WasmScanEngine();
  assert.throws(() => wasm.reserve(2 ** 31, 0), RangeError);
  wasm[Symbol.dispose]();
  assert.throws(() => wasm.reserve(10, 0), TypeError);
  assert.throws(() => wasm.find(0, 0), TypeError);
  assert.equal(wasm.window.length, 0);
  assert.equal(wasm.kind, "wasm");
  assert.equal(new TsScanEngine().kind, "ts");
});
