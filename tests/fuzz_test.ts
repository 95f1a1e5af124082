/**
 * Seeded fuzzing of the multipart splitter and the SOAP parser with mutated
 * inputs (bit flips, insertions, deletions, truncations, duplicated
 * delimiters, header junk): only typed errors, never a crash or a hang, and
 * bounded memory (small limits); the splitter gives the same result with
 * both engines and whatever the chunking. Then mutated whole answers go end
 * to end through the fake server, keeping the invariant.
 *
 * Set `FUZZ_SEED` to replay another seed; a failure prints the seed and the
 * iteration.
 */

import assert from "node:assert/strict";
import {
  buildRetrieveRequest,
  findSoapFault,
  type MultipartPart,
  parseRetrieveResponse,
  Rad69Client,
  Rad69Error,
} from "../mod.ts";
import { createScanEngine } from "../src/multipart/engines.ts";
import { MultipartParser } from "../src/multipart/multipart_parser.ts";
import type { ScanEngine } from "../src/multipart/scan_engine.ts";
import {
  type FakeDialect,
  FakeRad69Server,
  syntheticStudy,
} from "../src/testing/mod.ts";
import {
  assertInvariant,
  fetchAnswer,
  type RawAnswer,
  runRetrieve,
  SeededRandom,
} from "./_utils/fault_invariants.ts";
import { refsOf } from "./_utils/refs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 0x0ad69) | 0;
const enc = new TextEncoder();
const dec = new TextDecoder();

function concat(...chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Applies 1 to 4 random mutations: bit flips, byte changes, insertions of
 * random bytes, of `tokens` and of header lines, deletions, truncations,
 * duplicated ranges, CRLF/LF swaps. `protect` lists byte ranges that must
 * stay intact (kept up to date as bytes move).
 */
function mutate(
  input: Uint8Array,
  random: SeededRandom,
  tokens: readonly Uint8Array[],
  protect?: [number, number][],
): Uint8Array {
  let bytes = input;
  const ranges = protect?.map(([a, b]): [number, number] => [a, b]) ?? [];
  const free = (from: number, to: number) =>
    ranges.every(([a, b]) => to < a - 1 || from > b + 1);
  const insert = (at: number, data: Uint8Array) => {
    bytes = concat(bytes.subarray(0, at), data, bytes.subarray(at));
    for (const r of ranges) {
      if (r[0] >= at) {
        r[0] += data.length;
        r[1] += data.length;
      }
    }
  };
  const remove = (from: number, to: number) => {
    to = Math.min(to, bytes.length);
    if (to <= from || !free(from, to)) return;
    bytes = concat(bytes.subarray(0, from), bytes.subarray(to));
    for (const r of ranges) {
      if (r[0] >= to) {
        r[0] -= to - from;
        r[1] -= to - from;
      }
    }
  };
  const count = 1 + random.int(4);
  for (let m = 0; m < count; m++) {
    const at = random.int(bytes.length + 1);
    if (!free(at, at)) continue;
    const op = random.int(9);
    if (op === 0 && at < bytes.length) {
      bytes = bytes.slice();
      bytes[at] = bytes[at]! ^ (1 << random.int(8));
    } else if (op === 1 && at < bytes.length) {
      bytes = bytes.slice();
      bytes[at] = random.int(256);
    } else if (op === 2) {
      insert(at, new Uint8Array(1 + random.int(8)).map(() => random.int(256)));
    } else if (op === 3) {
      insert(at, random.pick(tokens));
    } else if (op === 4) {
      remove(at, at + 1 + random.int(16));
    } else if (op === 5 && protect === undefined) {
      bytes = bytes.subarray(0, at);
    } else if (op === 6) {
      // Duplicate a range (a delimiter, a header, a piece of a part).
      const from = random.int(bytes.length + 1);
      insert(at, bytes.slice(from, from + random.int(64)));
    } else if (op === 7) {
      // CRLF to LF, or LF to CRLF.
      const lf = bytes.indexOf(0x0a, at);
      if (lf > 0 && bytes[lf - 1] === 0x0d) remove(lf - 1, lf);
      else if (lf > 0 && free(lf, lf)) insert(lf, enc.encode("\r"));
    } else {
      insert(
        at,
        enc.encode(random.pick([
          `X-Junk-${random.int(1000)}: ${"v".repeat(random.int(40))}\r\n`,
          "no colon in this line\r\n",
          ": empty name\r\n",
          "Content-ID: <dup@x>\r\n",
          "Content-Transfer-Encoding: base64\r\n",
          " folded continuation\r\n",
          "\r\n",
        ])),
      );
    }
  }
  return bytes;
}

/** A small hash, to compare part bodies without keeping them. */
function fnv(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16);
}

/** A scan engine that records the largest window it was asked for. */
class MeteredEngine implements ScanEngine {
  readonly kind: "ts" | "wasm";
  largest = 0;
  #inner: ScanEngine;

  constructor(kind: "ts" | "wasm") {
    this.#inner = createScanEngine(kind);
    this.kind = kind;
  }

  get window(): Uint8Array {
    return this.#inner.window;
  }

  reserve(size: number, keep: number): void {
    this.largest = Math.max(this.largest, size);
    this.#inner.reserve(size, keep);
  }

  setNeedle(needle: Uint8Array): void {
    this.#inner.setNeedle(needle);
  }

  find(from: number, to: number): number {
    return this.#inner.find(from, to);
  }

  [Symbol.dispose](): void {
    this.#inner[Symbol.dispose]();
  }
}

interface SplitOptions {
  maxPartSize: number;
  maxHeaderBytes: number;
  maxHeaderCount: number;
}

/**
 * Splits `input` fed in the given chunks; returns a comparable summary.
 * Throws (failing the test) on anything but a Rad69Error.
 */
function split(
  input: Uint8Array,
  boundary: string,
  engine: "ts" | "wasm",
  chunks: readonly number[],
  limits: SplitOptions,
): string {
  const parts: string[] = [];
  let outcome = "ok";
  const metered = new MeteredEngine(engine);
  using parser = new MultipartParser(boundary, {
    engine: metered,
    windowSize: 1024,
    ...limits,
  });
  const onPart = (part: MultipartPart) => {
    assert.ok(part.body.length <= limits.maxPartSize, "part over its limit");
    assert.ok(
      part.offset >= 0 && part.offset + part.body.length <= input.length,
      "part outside the input",
    );
    assert.deepEqual(
      part.body,
      input.subarray(part.offset, part.offset + part.body.length),
      "part body is not the input's bytes at its offset",
    );
    parts.push(
      `${part.index}:${[...part.headers].join(",")}:${fnv(part.body)}`,
    );
  };
  try {
    let at = 0;
    for (const size of chunks) {
      parser.push(input.subarray(at, at + size), onPart);
      at += size;
    }
    parser.push(input.subarray(at), onPart);
    parser.finish();
  } catch (error) {
    if (!(error instanceof Rad69Error)) throw error;
    outcome = `${error.name}: ${error.message}`;
  }
  // Memory stays bounded by the limits, not by the input: the window holds
  // at most the current part (or header section) and one chunk, doubled.
  const chunk = chunks.length === 0 ? input.length : Math.max(...chunks);
  const bound = 2 *
      (Math.max(limits.maxPartSize, limits.maxHeaderBytes) + chunk + 2 * 80) +
    1024;
  assert.ok(
    metered.largest <= bound,
    `window of ${metered.largest} bytes for limits ${JSON.stringify(limits)}`,
  );
  return `${parts.join("|")} => ${outcome}`;
}

/** Random chunk sizes covering `length` (mostly small). */
function chunking(random: SeededRandom, length: number): number[] {
  const out: number[] = [];
  let left = length;
  while (left > 0) {
    const size = Math.min(
      left,
      random.chance(0.5) ? 1 + random.int(8) : 1 + random.int(512),
    );
    out.push(size);
    left -= size;
  }
  return out;
}

/** Valid multipart bodies of every shape the parser must handle. */
function syntheticBodies(
  random: SeededRandom,
): { boundary: string; body: Uint8Array }[] {
  const out: { boundary: string; body: Uint8Array }[] = [];
  const boundaries = [
    "b",
    "uuid:0ca0f2a1-2f61-4b6c-9c2e-1c5f0b1b2c3d",
    "----=_Part_1_2.3",
    "MIMEBoundary112233445566778899",
    "x".repeat(70),
  ];
  for (let n = 0; n < 40; n++) {
    const boundary = random.pick(boundaries);
    const nl = random.chance(0.2) ? "\n" : "\r\n";
    const text = random.chance(0.3)
      ? `preamble text${nl}`
      : random.chance(0.5)
      ? nl
      : "";
    const parts = random.int(5);
    const bodies: Uint8Array[] = [];
    for (let p = 0; p < parts; p++) {
      const headers = random.chance(0.2)
        ? ""
        : `Content-Type: application/dicom${nl}Content-ID: <p${p}@x>${nl}`;
      const body = new Uint8Array(random.int(300)).map(() => random.int(256));
      // Boundary look-alikes inside bodies.
      if (random.chance(0.3) && body.length > 10) {
        body.set(enc.encode(`--${boundary}`).subarray(0, body.length - 2), 1);
      }
      bodies.push(
        enc.encode(`${p === 0 ? "" : nl}--${boundary}${nl}${headers}${nl}`),
        body,
      );
    }
    const closing = parts === 0 ? `--${boundary}--` : `${nl}--${boundary}--`;
    const epilogue = random.chance(0.3) ? `${nl}epilogue` : nl;
    out.push({
      boundary,
      body: concat(enc.encode(text), ...bodies, enc.encode(closing + epilogue)),
    });
  }
  return out;
}

const STUDY = syntheticStudy({
  series: 1,
  instancesPerSeries: 3,
  pixelBytes: 256,
});
const REFS = refsOf(STUDY);
const SOURCES = new Map(STUDY.map((i) => [i.instanceUid, i.bytes]));

async function realAnswers(
  dialects: readonly FakeDialect[],
): Promise<RawAnswer[]> {
  const out: RawAnswer[] = [];
  for (const dialect of dialects) {
    await using s = await FakeRad69Server.start({ instances: STUDY, dialect });
    out.push(
      await fetchAnswer(s.url, buildRetrieveRequest(REFS, { url: s.url })),
    );
  }
  return out;
}

Deno.test({
  name:
    "MultipartParser gives only typed errors on 2,000 mutated bodies, the same with both engines and any chunking",
  timeout: 120_000,
  async fn() {
    const random = new SeededRandom(SEED);
    const seeds = syntheticBodies(random);
    for (
      const answer of await realAnswers([
        "cxf",
        "vitrea",
        "nist",
        "wcf",
        "form-data",
      ])
    ) {
      seeds.push({ boundary: answer.boundary!, body: answer.body });
    }
    let errors = 0;
    for (let iteration = 0; iteration < 2000; iteration++) {
      const seed = random.pick(seeds);
      const tokens = [
        enc.encode(`\r\n--${seed.boundary}\r\n`),
        enc.encode(`\r\n--${seed.boundary}--`),
        enc.encode(`--${seed.boundary}`),
        enc.encode(`\n--${seed.boundary}  \t\n`),
        enc.encode("\r\n\r\n"),
        enc.encode("--"),
        enc.encode("\r"),
        enc.encode("\n"),
      ];
      const input = mutate(seed.body, random, tokens);
      const limits: SplitOptions = {
        maxPartSize: random.pick([16, 300, 65536]),
        maxHeaderBytes: random.pick([24, 1024]),
        maxHeaderCount: random.pick([1, 64]),
      };
      const chunks = chunking(random, input.length);
      const context = `seed ${SEED}, iteration ${iteration}`;
      try {
        const whole = split(input, seed.boundary, "ts", [], limits);
        const ts = split(input, seed.boundary, "ts", chunks, limits);
        const wasm = split(input, seed.boundary, "wasm", chunks, limits);
        const wasmWhole = split(input, seed.boundary, "wasm", [], limits);
        assert.equal(ts, whole, "the chunking changed the result");
        assert.equal(wasm, ts, "the engines disagree");
        assert.equal(wasmWhole, whole, "the engines disagree on one chunk");
        if (!whole.endsWith("=> ok")) errors++;
      } catch (error) {
        throw new Error(`${context}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    // The corpus exercised both success and failure.
    assert.ok(errors > 100 && errors < 1900, `${errors} errors`);
  },
});

/** Valid SOAP answers: success, partial, failure, faults, inline. */
async function soapSeeds(): Promise<string[]> {
  const out: string[] = [];
  for (const dialect of ["inline", "vitrea"] as const) {
    await using s = await FakeRad69Server.start({ instances: STUDY, dialect });
    const unknown = { ...REFS[0]!, instanceUid: "1.2.3.999" };
    for (const refs of [REFS, [unknown], [REFS[0]!, unknown]]) {
      const answer = await fetchAnswer(
        s.url,
        buildRetrieveRequest(refs, { url: s.url }),
      );
      out.push(dec.decode(answer.body));
    }
    s.enqueue({
      soapFault: {
        code: "Sender",
        subcode: "wsa:ActionNotSupported",
        detail: "d",
      },
    });
    out.push(
      dec.decode(
        (await fetchAnswer(s.url, buildRetrieveRequest(REFS, { url: s.url })))
          .body,
      ),
    );
  }
  // The root part of an MTOM answer (xop:Include references).
  const [cxf] = await realAnswers(["cxf"]);
  using parser = new MultipartParser(cxf!.boundary!, { engine: "ts" });
  parser.push(cxf!.body, (part) => {
    if (part.index === 0) out.push(dec.decode(part.body));
  });
  return out;
}

Deno.test({
  name:
    "parseRetrieveResponse() and findSoapFault() give only typed errors on 3,000 mutated SOAP answers",
  timeout: 120_000,
  async fn() {
    const random = new SeededRandom(SEED ^ 0x50a9);
    const seeds = (await soapSeeds()).map((s) => enc.encode(s));
    const tokens = [
      "<",
      ">",
      "/>",
      "</",
      "&",
      "&amp;",
      "&lt;",
      "&#x0;",
      "&#1114112;",
      "&#65;",
      "&xxe;",
      '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
      "<![CDATA[",
      "]]>",
      "<!--",
      "-->",
      '<?xml version="1.0"?>',
      "=",
      '"',
      "'",
      ' xmlns:x=""',
      ' xmlns="urn:other"',
      ' x:a="1"',
      "<x:y>",
      "<a>".repeat(600),
      "\u0000",
      "\uFFFE",
      "\uD800",
      "é",
      "\u{1F600}",
      "cid:",
      "%",
      "%ZZ",
      'href=""',
      "<Document>",
      "</Document>",
      "<DocumentUniqueId></DocumentUniqueId>",
      'status="bogus"',
    ].map((t) => enc.encode(t));
    let parsed = 0;
    for (let iteration = 0; iteration < 3000; iteration++) {
      const input = mutate(random.pick(seeds), random, tokens);
      const context = `seed ${SEED}, iteration ${iteration}`;
      for (const form of ["bytes", "string"] as const) {
        const value = form === "bytes" ? input : dec.decode(input);
        try {
          parseRetrieveResponse(value, { httpStatus: 200 });
          parsed++;
        } catch (error) {
          if (!(error instanceof Rad69Error)) {
            throw new Error(
              `${context} (${form}): ${String(error)}\n${
                dec.decode(input).slice(0, 500)
              }`,
              { cause: error },
            );
          }
          assert.ok(error.message.length > 0);
        }
        try {
          findSoapFault(value, 500);
        } catch (error) {
          throw new Error(`${context}: findSoapFault threw ${error}`, {
            cause: error,
          });
        }
      }
    }
    assert.ok(parsed > 100, `only ${parsed} mutated answers parsed`);
  },
});

Deno.test({
  name:
    "Rad69Client keeps the invariant on 300 answers with mutated framing, end to end",
  timeout: 120_000,
  async fn() {
    const random = new SeededRandom(SEED ^ 0xe2e);
    const answers = await realAnswers(["cxf", "vitrea", "nist"]);
    // Where the document bytes are: mutations stay out of them (a changed
    // pixel cannot be detected by any client), so delivered bytes must be
    // the source's.
    const seeds = answers.map((answer) => {
      const bodies: [number, number][] = [];
      using parser = new MultipartParser(answer.boundary!, { engine: "ts" });
      parser.push(answer.body, (part) => {
        if (part.index > 0) {
          bodies.push([part.offset, part.offset + part.body.length]);
        }
      });
      return { answer, bodies };
    });
    await using server = await FakeRad69Server.start({ instances: STUDY });
    let delivered = 0;
    let failed = 0;
    for (let iteration = 0; iteration < 300; iteration++) {
      const { answer, bodies } = random.pick(seeds);
      const boundary = answer.boundary!;
      const tokens = [
        enc.encode(`\r\n--${boundary}\r\n`),
        enc.encode(`\r\n--${boundary}--\r\n`),
        enc.encode("\r\n\r\n"),
        enc.encode("Content-ID: <x@y>\r\n"),
      ];
      let input = mutate(answer.body, random, tokens, bodies);
      if (random.chance(0.2)) {
        input = input.subarray(0, random.int(input.length));
      }
      server.enqueue({ garbage: input, contentType: answer.contentType });
      const client = new Rad69Client({
        url: server.url,
        retries: 0,
        engine: random.pick(["wasm", "ts"] as const),
        chunkSize: 1024,
        maxRootPartSize: 1 << 20,
        maxPartSize: 1 << 20,
        logger: {},
      });
      try {
        const run = await runRetrieve(client, REFS, { deadlineMs: 5_000 });
        assertInvariant(run, REFS, SOURCES);
        for (const error of run.failed.values()) {
          // An unexpected exception reported as a failure is a crash.
          assert.doesNotMatch(
            error.message,
            /Cannot process the answer/,
            `${error.name}: ${error.message}`,
          );
        }
        delivered += run.delivered.size;
        failed += run.failed.size;
      } catch (error) {
        throw new Error(
          `seed ${SEED}, iteration ${iteration}: ${(error as Error).message}`,
          { cause: error },
        );
      }
      assert.equal(server.pendingPlans, 0);
    }
    assert.ok(delivered > 0 && failed > 0, `${delivered} / ${failed}`);
  },
});
