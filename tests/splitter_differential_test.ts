/**
 * Differential and property tests of the multipart splitter: the WASM
 * splitter, the pure-TS splitter and the splitter over a naive scan engine
 * must give exactly the parts that an independent whole-body reference gives,
 * over thousands of seeded random bodies and chunkings (1 byte to 8 MiB).
 *
 * The bodies hold boundary look-alikes inside payloads (delimiter prefixes,
 * `CRLF--boundary` followed by a wrong byte or by too much padding,
 * `--boundary` after a bare LF), parts ending in CR, LF, CRLF, `-` or `--`,
 * empty parts, LF-only framing, transport padding, preambles, epilogues and
 * truncations; every delimiter is also split at every offset across two
 * chunks.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  LimitExceededError,
  MultipartSyntaxError,
  TruncatedResponseError,
} from "../src/errors.ts";
import {
  MultipartParser,
  type MultipartPart,
} from "../src/multipart/multipart_parser.ts";
import { MultipartSplitter } from "../src/multipart/multipart_splitter.ts";
import type { ScanEngine } from "../src/multipart/scan_engine.ts";
import { NaiveScanEngine } from "./_utils/naive_engine.ts";

const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
const SPACE = 0x20;
const TAB = 0x09;
const MIB = 1 << 20;
const latin1 = new TextDecoder("latin1");

// ---------------------------------------------------------------------------
// The reference: a whole-body splitter written from the parser's contract
// (RFC 2046 delimiters `CRLF--boundary`, a first delimiter at a line start,
// LF-only framing when the first delimiter line ends in a bare LF, transport
// padding, `--` closing), with Buffer#indexOf and no streaming at all.

/** What follows a boundary: a line end, `--`, something else, or the end. */
const MORE = -1;
const CLOSE = -2;
const NONE = -3;

/** A part as the reference sees it. */
interface RefPart {
  headers: [string, string][];
  body: Uint8Array;
  offset: number;
}

/**
 * The parts of a body, and whether its closing delimiter came, or the error
 * that stopped the split (after `parts`).
 */
interface Split {
  parts: RefPart[];
  complete: boolean;
  error?: "MultipartSyntaxError" | "LimitExceededError";
}

/** The parser's default limits. */
const MAX_HEADER_BYTES = 16384;
const MAX_HEADER_COUNT = 64;

/**
 * Classifies the bytes after a dash-boundary at `at`: the index after its
 * line end, CLOSE for `--`, NONE when it is not a delimiter, MORE when the
 * body ends before that is known.
 */
function lineEnd(b: Uint8Array, at: number): number {
  const len = b.length;
  if (at >= len) return MORE;
  if (b[at] === DASH) {
    if (at + 1 >= len) return MORE;
    return b[at + 1] === DASH ? CLOSE : NONE;
  }
  let i = at;
  while (i < len && (b[i] === SPACE || b[i] === TAB)) i++;
  if (i - at > 256) return NONE; // Far too much padding: content.
  if (i >= len) return MORE;
  if (b[i] === LF) return i + 1;
  if (b[i] !== CR) return NONE;
  if (i + 1 >= len) return MORE;
  return b[i + 1] === LF ? i + 2 : NONE;
}

/**
 * The fields of one header section (lines end in CRLF or LF; a line starting
 * with a space or tab continues the previous field), as `Headers` entries,
 * or undefined when a line is not a valid field or there are too many.
 */
function refHeaders(bytes: Uint8Array): [string, string][] | undefined {
  const fields: [string, string][] = [];
  for (const line of latin1.decode(bytes).split(/\r?\n/)) {
    if (line === "") continue;
    if ((line[0] === " " || line[0] === "\t") && fields.length > 0) {
      fields[fields.length - 1]![1] += " " + line.trim();
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0 || fields.length === MAX_HEADER_COUNT) return undefined;
    fields.push([line.slice(0, colon).trim(), line.slice(colon + 1)]);
  }
  const headers = new Headers();
  try {
    for (const [name, value] of fields) headers.append(name, value.trim());
  } catch {
    return undefined; // Not a token name, or a control byte in the value.
  }
  return [...headers];
}

/**
 * Whether a body without any `--boundary` may still be the start of a
 * multipart body cut short: nothing but white space, then a prefix of
 * `--boundary`. Otherwise it is not multipart at all (a syntax error).
 */
function looksTruncated(buf: Buffer, dash: Buffer): boolean {
  let i = 0;
  while (
    i < buf.length &&
    (buf[i] === SPACE || buf[i] === TAB || buf[i] === CR || buf[i] === LF)
  ) i++;
  const rest = buf.subarray(i);
  return rest.length < dash.length &&
    rest.equals(dash.subarray(0, rest.length));
}

/** Splits a whole body. */
function referenceSplit(body: Uint8Array, boundary: string): Split {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const dash = Buffer.from(`--${boundary}`, "latin1");
  const parts: RefPart[] = [];
  const incomplete = (): Split => ({ parts, complete: false });
  // The first delimiter: `--boundary` at a line start, then a line end.
  let start = -1;
  for (let from = 0;;) {
    const i = buf.indexOf(dash, from);
    if (i < 0) {
      return from === 0 && !looksTruncated(buf, dash)
        ? { parts, complete: false, error: "MultipartSyntaxError" }
        : incomplete();
    }
    if (i > 0 && buf[i - 1] !== LF) {
      from = i + 1;
      continue;
    }
    const end = lineEnd(buf, i + dash.length);
    if (end === MORE) return incomplete();
    if (end === CLOSE) return { parts, complete: true };
    if (end === NONE) {
      from = i + 1;
      continue;
    }
    start = end;
    break;
  }
  const lfOnly = buf[start - 2] !== CR;
  const delimiter = Buffer.concat([
    Buffer.from(lfOnly ? "\n" : "\r\n", "latin1"),
    dash,
  ]);
  const m = delimiter.length;
  for (;;) {
    // `start` is the first byte after a delimiter line.
    let bodyStart: number;
    let headers: [string, string][] = [];
    const atOnce = buf.subarray(start, start + m).equals(delimiter)
      ? lineEnd(buf, start + m)
      : NONE;
    if (atOnce === MORE) return incomplete();
    if (atOnce !== NONE) {
      bodyStart = start; // An empty part: no headers, no body.
    } else if (buf[start] === LF) {
      bodyStart = start + 1;
    } else if (buf[start] === CR && buf[start + 1] === LF) {
      bodyStart = start + 2;
    } else {
      const a = buf.indexOf("\n\n", start, "latin1");
      const c = buf.indexOf("\n\r\n", start, "latin1");
      if (a < 0 && c < 0) {
        return body.length - start > MAX_HEADER_BYTES
          ? { parts, complete: false, error: "LimitExceededError" }
          : incomplete();
      }
      const k = c < 0 || (a >= 0 && a < c) ? a : c;
      if (k + 1 - start > MAX_HEADER_BYTES) {
        return { parts, complete: false, error: "LimitExceededError" };
      }
      const fields = refHeaders(buf.subarray(start, k + 1));
      if (!fields) {
        return { parts, complete: false, error: "MultipartSyntaxError" };
      }
      headers = fields;
      bodyStart = k === a ? k + 2 : k + 3;
    }
    for (let from = bodyStart;;) {
      const j = buf.indexOf(delimiter, from);
      if (j < 0) return incomplete();
      const end = lineEnd(buf, j + m);
      if (end === MORE) return incomplete();
      if (end === NONE) {
        from = j + 1;
        continue;
      }
      parts.push({
        headers,
        body: body.slice(bodyStart, j),
        offset: bodyStart,
      });
      if (end === CLOSE) return { parts, complete: true };
      start = end;
      break;
    }
  }
}

// ---------------------------------------------------------------------------
// Running the streaming splitters.

type Kind = "wasm" | "ts" | "naive";
const KINDS: readonly Kind[] = ["wasm", "ts", "naive"];

function engineOf(kind: Kind): "wasm" | "ts" | ScanEngine {
  return kind === "naive" ? new NaiveScanEngine() : kind;
}

/** A splitter's answer in the reference's shape. */
function fromParts(
  parts: readonly MultipartPart[],
  complete: boolean,
  error?: Split["error"],
): Split {
  return {
    ...(error ? { error } : {}),
    parts: parts.map((p, i) => {
      assert.equal(p.index, i, "part indexes count from 0");
      return {
        headers: [...p.headers] as [string, string][],
        body: p.body,
        offset: p.offset,
      };
    }),
    complete,
  };
}

/** Feeds `body` to a MultipartParser in chunks of the given sizes. */
function runParser(
  body: Uint8Array,
  boundary: string,
  kind: Kind,
  sizes: readonly number[],
  windowSize: number,
): Split {
  using parser = new MultipartParser(boundary, {
    engine: engineOf(kind),
    windowSize,
  });
  const parts: MultipartPart[] = [];
  const onPart = (p: MultipartPart) => parts.push(p);
  let at = 0;
  try {
    for (let k = 0; at < body.length; k++) {
      const size = sizes[k % sizes.length]!;
      parser.push(body.subarray(at, at + size), onPart);
      at += size;
    }
  } catch (error) {
    return fromParts(parts, false, expected(error));
  }
  try {
    parser.finish();
  } catch (error) {
    if (error instanceof TruncatedResponseError) return fromParts(parts, false);
    return fromParts(parts, false, expected(error));
  }
  return fromParts(parts, true);
}

/** The name of a syntax or limit error; anything else is rethrown. */
function expected(error: unknown): Split["error"] {
  if (error instanceof MultipartSyntaxError) return "MultipartSyntaxError";
  if (error instanceof LimitExceededError) return "LimitExceededError";
  throw error;
}

/** Pipes `body` through a MultipartSplitter in chunks of the given sizes. */
async function runSplitter(
  body: Uint8Array,
  boundary: string,
  kind: "wasm" | "ts",
  sizes: readonly number[],
): Promise<Split> {
  const chunks: Uint8Array[] = [];
  for (let at = 0, k = 0; at < body.length; k++) {
    const size = sizes[k % sizes.length]!;
    chunks.push(body.slice(at, at + size));
    at += size;
  }
  const parts: MultipartPart[] = [];
  try {
    for await (
      const part of ReadableStream.from(chunks).pipeThrough(
        new MultipartSplitter(boundary, { engine: kind, windowSize: 1024 }),
      )
    ) {
      parts.push(part);
    }
  } catch (error) {
    if (error instanceof TruncatedResponseError) return fromParts(parts, false);
    return fromParts(parts, false, expected(error));
  }
  return fromParts(parts, true);
}

/** Runs `fn`, naming `what` in any error it throws. */
function naming<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    throw new Error(`${what}: ${error}`, { cause: error });
  }
}

/** A short printable form of a body, for messages. */
function show(body: Uint8Array): string {
  return body.length > 600
    ? `${body.length} bytes`
    : JSON.stringify(latin1.decode(body));
}

/** Compares two splits; the message names what differs. */
function assertSameSplit(got: Split, want: Split, what: string): void {
  const describe = (s: Split) =>
    `${s.parts.length} part(s), ${
      s.error ?? (s.complete ? "complete" : "truncated")
    }`;
  assert.equal(
    got.parts.length,
    want.parts.length,
    `${what}: got ${describe(got)}, want ${describe(want)}`,
  );
  for (let i = 0; i < want.parts.length; i++) {
    const g = got.parts[i]!;
    const w = want.parts[i]!;
    assert.equal(g.offset, w.offset, `${what}: offset of part ${i}`);
    assert.ok(
      Buffer.from(g.body.buffer, g.body.byteOffset, g.body.byteLength)
        .equals(w.body),
      `${what}: body of part ${i} (${g.body.length} vs ${w.body.length} bytes)`,
    );
    assert.deepEqual(g.headers, w.headers, `${what}: headers of part ${i}`);
  }
  assert.equal(got.complete, want.complete, `${what}: ${describe(want)}`);
  assert.equal(got.error, want.error, `${what}: ${describe(want)}`);
}

// ---------------------------------------------------------------------------
// Seeded random bodies.

/** mulberry32: a small seeded PRNG giving floats in [0, 1). */
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

type Rng = () => number;
const int = (r: Rng, lo: number, hi: number) =>
  lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rng, items: readonly T[]): T =>
  items[int(r, 0, items.length - 1)]!;

const BOUNDARIES = [
  "b",
  "q7",
  "--",
  "=_x",
  "a b",
  "simple-boundary",
  "----=_Part_12_345.678",
  "MIMEBoundary112233445566778899",
  "uuid:0ca0e5a3-1fb1-4ab0-9a4f-77c2a0f6c1b5",
  "uuid:0ca0e5a3-1fb1-4ab0-9a4f-77c2a0f6c1b5+id=1_MIMEBoundary_urn_uuid_Q",
];

/** Bytes of a latin1 string. */
function bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function concat(pieces: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function randomBytes(r: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = int(r, 0, 255);
  return out;
}

/** 12-bit pixel-like bytes: little-endian words below 4096. */
function pixelBytes(r: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = i & 1 ? int(r, 0, 15) : int(r, 0, 255);
  return out;
}

/** A body built from known parts. */
interface Built {
  body: Uint8Array;
  boundary: string;
  /** The parts the generator meant (the reference may see more or fewer). */
  intended: Uint8Array[];
}

/** A payload full of boundary look-alikes, random bytes and tricky ends. */
function payload(r: Rng, delimiter: string, nl: string, max: number): string {
  const dash = delimiter.slice(nl.length);
  const target = int(r, 0, max);
  let out = "";
  while (out.length < target) {
    switch (int(r, 0, 11)) {
      case 0:
        out += String.fromCharCode(...randomBytes(r, int(r, 1, 40)));
        break;
      case 1:
        out += String.fromCharCode(...pixelBytes(r, int(r, 2, 64)));
        break;
      case 2: // A prefix of the delimiter.
        out += delimiter.slice(0, int(r, 1, delimiter.length - 1));
        break;
      case 3: // The delimiter, then a byte that makes it content.
        out += delimiter + pick(r, ["X", "=", "_", ".", "a", "-X"]);
        break;
      case 4: // Padding, then garbage.
        out += delimiter + pick(r, [" ", "\t", " \t "]) + "X";
        break;
      case 5: // Far too much padding.
        out += delimiter + " ".repeat(300) + nl;
        break;
      case 6: // `--boundary` on a line of its own, after a bare LF (CRLF mode)
        out += nl === "\r\n" ? `a\n${dash}\r\n` : `a${dash}\n`;
        break;
      case 7: // A dash-boundary in the middle of a line.
        out += `x${dash}${nl}`;
        break;
      case 8:
        out += pick(r, ["\r", "\n", "\r\n", "-", "--", "\r\n-", "\r\r\n"]);
        break;
      case 9:
        out += "-".repeat(int(r, 1, dash.length + 2));
        break;
      case 10: // The close delimiter's look-alike.
        out += delimiter.slice(0, -1) + "--";
        break;
      default:
        out += "plain text ";
    }
  }
  // How the body ends, just before the next delimiter.
  out += pick(r, [
    "",
    "",
    "\r",
    "\n",
    "\r\n",
    "-",
    "--",
    "\r\n-",
    delimiter.slice(0, int(r, 1, delimiter.length - 1)),
  ]);
  return out;
}

const HEADER_NAMES = [
  "Content-ID",
  "Content-Type",
  "Content-Transfer-Encoding",
  "Content-Disposition",
  "X-Seq",
];

/** A random multipart body (seeded). */
function randomBody(r: Rng, maxPayload: number): Built {
  const boundary = pick(r, BOUNDARIES);
  const nl = r() < 0.15 ? "\n" : "\r\n";
  const dash = `--${boundary}`;
  const delimiter = nl + dash;
  const padding = () =>
    r() < 0.1 ? pick(r, [" ", "\t", "  ", " \t", "    "]) : "";
  let text = "";
  if (r() < 0.2) text += "\r\n"; // CXF starts with a CRLF.
  if (r() < 0.3) {
    text += pick(r, ["preamble", "This is a MIME message", `x${dash}`]) + nl +
      pick(r, ["", `${dash}X${nl}`, `${dash}-${nl}`, ` ${dash}${nl}`]);
  }
  const count = r() < 0.05 ? 0 : int(r, 1, 6);
  text += count === 0 ? `${dash}--` : dash + padding() + nl;
  const intended: Uint8Array[] = [];
  for (let k = 0; k < count; k++) {
    if (k > 0) text += delimiter + padding() + nl;
    const names = HEADER_NAMES.filter(() => r() < 0.35);
    const body = r() < 0.1 ? "" : payload(r, delimiter, nl, maxPayload);
    if (names.length === 0 && body === "" && r() < 0.5) {
      // An empty part: the next delimiter follows at once.
    } else {
      for (const name of names) {
        text += `${name}: ${pick(r, ["<a@b>", "application/dicom", "v"])}`;
        if (r() < 0.1) text += `${nl}\t folded`;
        text += nl;
      }
      text += nl + body;
    }
    intended.push(bytes(body));
  }
  if (count > 0) text += delimiter + "--";
  if (r() < 0.3) {
    text += pick(r, [nl, `${nl}epilogue${nl}`, `${nl}${dash}${nl}more`]);
  }
  let body = bytes(text);
  if (r() < 0.15) body = body.subarray(0, int(r, 0, body.length));
  return { body, boundary, intended };
}

/** Chunk sizes: whole, random (log-uniform), and 1 byte for small bodies. */
function chunkings(r: Rng, n: number): number[][] {
  const out: number[][] = [[Math.max(1, n)]];
  const random: number[] = [];
  for (let at = 0; at < n;) {
    const size = Math.max(1, Math.round(Math.exp(r() * Math.log(n + 1))));
    random.push(size);
    at += size;
  }
  out.push(random.length > 0 ? random : [1]);
  if (n <= 1500) out.push([1]);
  return out;
}

const WINDOWS = [1024, 4096, 65536, 5 * MIB];

// ---------------------------------------------------------------------------
// The reference itself.

Deno.test("referenceSplit() recovers hand-written bodies", () => {
  const table: [string, string, string[] | null, boolean][] = [
    [
      "b",
      "--b\r\n\r\none\r\n--b\r\nA: 1\r\n\r\ntwo\r\n--b--",
      ["one", "two"],
      true,
    ],
    ["b", "pre\r\n--b\r\n\r\n--b\r\n\r\n\r\n--b--\r\nepi", ["", ""], true],
    ["b", "--b\n\nx\r\n--b\n\ny\n--b--", ["x\r", "y"], true],
    ["b", "--b \t\r\n\r\n--bX\r\n--b  \r\n\r\nz\r\n--b--", ["--bX", "z"], true],
    ["b", "x--b\r\n--bY\r\n--b\r\n\r\nq\r\n--b--", ["q"], true],
    ["b", "--b\r\n\r\nhalf\r\n--b\r\n\r\nlost", ["half"], false],
    ["b", "--b\r\n\r\nnot yet\r\n--", [], false],
    ["b", "--b--", [], true],
    ["--", "----\r\n\r\n-----X\r\n------", ["-----X"], true],
  ];
  for (const [boundary, text, parts, complete] of table) {
    const got = referenceSplit(bytes(text), boundary);
    assert.deepEqual(
      got.parts.map((p) => latin1.decode(p.body)),
      parts,
      JSON.stringify(text),
    );
    assert.equal(got.complete, complete, JSON.stringify(text));
  }
});

Deno.test("referenceSplit() recovers the parts most random bodies were built from", () => {
  const r = prng(7);
  let whole = 0;
  let same = 0;
  for (let n = 0; n < 2000; n++) {
    const built = randomBody(r, 200);
    const split = referenceSplit(built.body, built.boundary);
    if (!split.complete) continue;
    whole++;
    if (
      split.parts.length === built.intended.length &&
      split.parts.every((p, i) =>
        Buffer.from(p.body).equals(built.intended[i]!)
      )
    ) {
      same++;
    }
  }
  // Payload look-alikes may by chance spell a real delimiter (a delimiter
  // prefix followed by the rest of it); that must stay rare.
  assert.ok(whole > 1000, `only ${whole} complete bodies`);
  assert.ok(same / whole > 0.85, `${same} of ${whole} bodies as built`);
});

// ---------------------------------------------------------------------------
// Differential tests.

Deno.test("MultipartParser gives the reference's parts for 3,000 random bodies and chunkings, on every engine", () => {
  const r = prng(0x5eed);
  let parts = 0;
  let truncated = 0;
  for (let n = 0; n < 3000; n++) {
    const built = randomBody(r, n % 10 === 0 ? 3000 : 160);
    const want = referenceSplit(built.body, built.boundary);
    parts += want.parts.length;
    if (!want.complete) truncated++;
    const window = pick(r, WINDOWS);
    for (const sizes of chunkings(r, built.body.length)) {
      for (const kind of KINDS) {
        const what = `body ${n} ${show(built.body)} (boundary ${
          JSON.stringify(built.boundary)
        }), ${kind}, window ${window}, chunks ${
          JSON.stringify(sizes.slice(0, 8))
        }`;
        const got = naming(
          what,
          () => runParser(built.body, built.boundary, kind, sizes, window),
        );
        assertSameSplit(got, want, what);
      }
    }
  }
  assert.ok(parts > 6000, `only ${parts} parts`);
  assert.ok(truncated > 300, `only ${truncated} truncated bodies`);
});

Deno.test("MultipartParser gives the reference's parts with every delimiter split at every offset across two chunks", () => {
  const r = prng(42);
  let splits = 0;
  for (let n = 0; n < 300; n++) {
    const built = randomBody(r, 60);
    const body = built.body;
    const want = referenceSplit(body, built.boundary);
    const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    // Cut points: every offset inside and around each `--boundary`.
    const cuts = new Set<number>();
    const dash = Buffer.from(`--${built.boundary}`, "latin1");
    for (let i = buf.indexOf(dash); i >= 0; i = buf.indexOf(dash, i + 1)) {
      for (let c = i - 2; c <= i + dash.length + 4; c++) {
        if (c > 0 && c < body.length) cuts.add(c);
      }
    }
    for (const cut of cuts) {
      for (const kind of KINDS) {
        splits++;
        assertSameSplit(
          runParser(body, built.boundary, kind, [cut, body.length], 1024),
          want,
          `body ${n} ${
            JSON.stringify(latin1.decode(body))
          }, ${kind}, cut at ${cut}`,
        );
      }
    }
  }
  assert.ok(splits > 10_000, `only ${splits} two-chunk splits`);
});

Deno.test("MultipartParser gives the reference's parts for every truncation of a body", () => {
  const r = prng(99);
  for (let n = 0; n < 40; n++) {
    const built = randomBody(r, 40);
    for (let cut = 0; cut <= built.body.length; cut++) {
      const body = built.body.subarray(0, cut);
      const want = referenceSplit(body, built.boundary);
      for (const kind of KINDS) {
        assertSameSplit(
          runParser(body, built.boundary, kind, [int(r, 1, 16)], 1024),
          want,
          `body ${n} cut at ${cut} ${
            JSON.stringify(latin1.decode(body))
          }, ${kind}`,
        );
      }
    }
  }
});

Deno.test("MultipartSplitter gives the reference's parts for random bodies and chunkings", async () => {
  const r = prng(2024);
  for (let n = 0; n < 200; n++) {
    const built = randomBody(r, 400);
    const want = referenceSplit(built.body, built.boundary);
    for (const kind of ["wasm", "ts"] as const) {
      const sizes = chunkings(r, built.body.length)[1]!;
      assertSameSplit(
        await runSplitter(built.body, built.boundary, kind, sizes),
        want,
        `body ${n}, splitter ${kind}`,
      );
    }
  }
});

// ---------------------------------------------------------------------------
// Multi-MiB bodies, chunks up to 8 MiB.

/** A large CXF-like body: parts of pixel data with look-alikes sprinkled. */
function largeBody(r: Rng, partSizes: readonly number[]): Built {
  const boundary =
    "uuid:0ca0e5a3-1fb1-4ab0-9a4f-77c2a0f6c1b5+id=1_MIMEBoundary_urn_uuid_Q";
  const delimiter = bytes(`\r\n--${boundary}`);
  const pieces: Uint8Array[] = [bytes(`\r\n--${boundary}\r\n`)];
  const intended: Uint8Array[] = [];
  for (const [k, size] of partSizes.entries()) {
    if (k > 0) pieces.push(delimiter, bytes("\r\n"));
    pieces.push(bytes(`Content-ID: <${k}@x>\r\n\r\n`));
    const part = k % 2 ? randomBytes(r, size) : pixelBytes(r, size);
    // Near-miss delimiters: a prefix, or the whole delimiter and a wrong byte.
    for (let at = int(r, 0, 65536); at + 80 < size; at += int(r, 1, 131072)) {
      const cut = int(r, 1, delimiter.length);
      part.set(delimiter.subarray(0, cut), at);
      if (cut === delimiter.length) part[at + cut] = 0x58;
    }
    pieces.push(part);
    intended.push(part);
  }
  pieces.push(delimiter, bytes("--\r\n"));
  return { body: concat(pieces), boundary, intended };
}

Deno.test("MultipartParser gives the reference's parts for multi-MiB bodies in chunks up to 8 MiB", () => {
  const r = prng(8);
  const bodies = [
    largeBody(r, [300, 3 * MIB + 17, 512 * 1024, 6 * MIB - 1, 0, 9 * MIB]),
    largeBody(r, [10 * MIB + 3]),
    largeBody(r, Array.from({ length: 24 }, (_, i) => (i % 5) * 100_000 + 1)),
  ];
  for (const [n, built] of bodies.entries()) {
    const want = referenceSplit(built.body, built.boundary);
    assert.equal(want.complete, true);
    assert.equal(want.parts.length, built.intended.length);
    const size = built.body.length;
    const random: number[] = [];
    for (let at = 0; at < size;) {
      const s = int(r, 1, 8 * MIB);
      random.push(s);
      at += s;
    }
    const small: number[] = [];
    for (let i = 0; i < 512; i++) small.push(int(r, 1, 97));
    const chunkingsOf: number[][] = [
      [8 * MIB],
      [5 * MIB],
      [MIB + 1],
      [65536],
      random,
      [size],
    ];
    for (const sizes of chunkingsOf) {
      for (const kind of ["wasm", "ts"] as const) {
        for (const window of [1024, 5 * MIB]) {
          assertSameSplit(
            runParser(built.body, built.boundary, kind, sizes, window),
            want,
            `large body ${n}, ${kind}, window ${window}, chunks ${
              JSON.stringify(sizes.slice(0, 4))
            }`,
          );
        }
      }
    }
    // Tiny chunks (1..97 bytes) over the first 256 KiB, and the naive engine.
    const head = built.body.subarray(0, 256 * 1024);
    const wantHead = referenceSplit(head, built.boundary);
    for (const kind of KINDS) {
      assertSameSplit(
        runParser(head, built.boundary, kind, small, 1024),
        wantHead,
        `head of large body ${n}, ${kind}, tiny chunks`,
      );
    }
    assertSameSplit(
      runParser(built.body, built.boundary, "naive", [3 * MIB], 1024),
      want,
      `large body ${n}, naive`,
    );
  }
});

Deno.test("MultipartParser keeps the fixes the differential tests called for", () => {
  const cases: [string, string[], boolean][] = [
    // `CRLF--boundary` + other bytes right after a delimiter line is an
    // empty header section, then a body starting with `--boundary`.
    ["--b\r\n\r\n--bX\r\n--b--", ["--bX"], true],
    ["--b\n\n--bX\n--b--", ["--bX"], true],
    // A delimiter line ending in a bare LF at the very end of the body is
    // complete: the part before it was delivered.
    ["--b\r\n\r\nfirst\r\n--b\n", ["first"], false],
  ];
  for (const [text, bodies, complete] of cases) {
    for (const kind of KINDS) {
      for (const size of [1, 2, text.length]) {
        const got = runParser(bytes(text), "b", kind, [size], 1024);
        assert.deepEqual(
          got.parts.map((p) => latin1.decode(p.body)),
          bodies,
          `${JSON.stringify(text)}, ${kind}, chunks of ${size}`,
        );
        assert.equal(got.complete, complete);
      }
    }
  }
});
