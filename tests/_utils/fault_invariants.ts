/**
 * Helpers of the fault suite: run a retrieve under a deadline and check the
 * invariant every fault must keep:
 *
 * - delivered ∪ reported-failed = requested, each instance exactly once;
 * - every delivered instance is byte-identical to its source;
 * - every failure is a typed `Rad69Error` with a message (and, when the
 *   scenario says so, of the expected classes);
 * - nothing hangs: the run is aborted, and the test fails, at a deadline;
 * - an output directory holds only complete, byte-identical `.dcm` files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Rad69Error } from "../../src/errors.ts";
import type { InstanceReference } from "../../src/references.ts";
import type { InstanceOutcome } from "../../src/outcome.ts";
import type { AttemptReport } from "../../src/outcome.ts";
import type { Rad69Client } from "../../src/client.ts";
import { sameBytes } from "./refs.ts";

/** A failure class, as accepted by {@linkcode FaultExpectation.errors}. */
// deno-lint-ignore no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => Error;

/** What a finished run gave. */
export interface FaultRun {
  /** Every outcome, in arrival order. */
  readonly outcomes: InstanceOutcome[];
  /** Delivered instances by SOP Instance UID. */
  readonly delivered: Map<string, Uint8Array>;
  /** Failures by SOP Instance UID. */
  readonly failed: Map<string, Rad69Error>;
  /** Every attempt report. */
  readonly attempts: AttemptReport[];
}

/** Options of {@linkcode runRetrieve}. */
export interface RunOptions {
  /**
   * Milliseconds before the run counts as hung: it is aborted and the
   * returned promise rejects.
   *
   * @default {10000}
   */
  deadlineMs?: number;
}

/**
 * Runs `client.retrieve(refs)` to the end under a deadline.
 *
 * @param client The client.
 * @param refs What to ask for.
 * @param options The deadline.
 * @returns The outcomes, sorted into delivered and failed.
 * @throws {Error} When the run does not end before the deadline (a hang).
 */
export async function runRetrieve(
  client: Rad69Client,
  refs: readonly InstanceReference[],
  options: RunOptions = {},
): Promise<FaultRun> {
  const deadlineMs = options.deadlineMs ?? 10_000;
  const controller = new AbortController();
  const hung = new Error(`Retrieve did not end within ${deadlineMs} ms`);
  const timer = setTimeout(() => controller.abort(hung), deadlineMs);
  const outcomes: InstanceOutcome[] = [];
  const attempts: AttemptReport[] = [];
  try {
    for await (
      const outcome of client.retrieve(refs, {
        signal: controller.signal,
        onAttempt: (a) => attempts.push(a),
      })
    ) {
      outcomes.push(outcome);
    }
  } finally {
    clearTimeout(timer);
  }
  const delivered = new Map<string, Uint8Array>();
  const failed = new Map<string, Rad69Error>();
  for (const o of outcomes) {
    if (o.status === "delivered") {
      delivered.set(o.ref.instanceUid, o.instance.bytes);
    } else failed.set(o.ref.instanceUid, o.error);
  }
  return { outcomes, delivered, failed, attempts };
}

/** What a scenario expects besides the invariant. */
export interface FaultExpectation {
  /** Failures must be instances of one of these classes. */
  errors?: readonly ErrorClass[];
  /** Exactly this many instances must be delivered. */
  delivered?: number;
  /** At least this many instances must be delivered. */
  minDelivered?: number;
}

/**
 * Asserts the fault invariant on a finished run.
 *
 * @param run The run.
 * @param requested What was asked for.
 * @param sources The source bytes by SOP Instance UID.
 * @param expect Classes of the failures and delivery counts.
 */
export function assertInvariant(
  run: FaultRun,
  requested: readonly InstanceReference[],
  sources: ReadonlyMap<string, Uint8Array>,
  expect: FaultExpectation = {},
): void {
  const asked = requested.map((r) => r.instanceUid).sort();
  const got = run.outcomes.map((o) => o.ref.instanceUid).sort();
  assert.deepEqual(
    got,
    asked,
    "every requested instance ends exactly once, delivered or failed",
  );
  for (const [uid, bytes] of run.delivered) {
    const source = sources.get(uid);
    assert.ok(source, `delivered an instance nobody has: ${uid}`);
    assert.ok(
      sameBytes(bytes, source),
      `delivered bytes of ${uid} differ from the source (${bytes.length} vs ${source.length} bytes)`,
    );
  }
  for (const [uid, error] of run.failed) {
    assert.ok(
      error instanceof Rad69Error,
      `failure of ${uid} is not a Rad69Error: ${error}`,
    );
    assert.ok(error.message.length > 0, `failure of ${uid} has no message`);
    if (expect.errors) {
      assert.ok(
        expect.errors.some((cls) => error instanceof cls),
        `failure of ${uid} is an unexpected ${error.name}: ${error.message}`,
      );
    }
  }
  if (expect.delivered !== undefined) {
    assert.equal(
      run.delivered.size,
      expect.delivered,
      `expected ${expect.delivered} delivered; failures: ${
        [...run.failed.values()].map((e) => `${e.name}: ${e.message}`).join(
          "; ",
        )
      }`,
    );
  }
  if (expect.minDelivered !== undefined) {
    assert.ok(
      run.delivered.size >= expect.minDelivered,
      `expected at least ${expect.minDelivered} delivered, got ${run.delivered.size}`,
    );
  }
}

/**
 * Asserts that an output directory holds only complete files: every file is
 * `<study>/<series>/<instance>.dcm` of a requested instance, byte-identical
 * to its source; no temporary or partial file is left.
 *
 * @param dir The output directory.
 * @param sources The source bytes by SOP Instance UID.
 * @returns The SOP Instance UIDs of the files found.
 */
export async function assertCleanOutputDir(
  dir: string,
  sources: ReadonlyMap<string, Uint8Array>,
): Promise<string[]> {
  const found: string[] = [];
  const walk = async (path: string, depth: number): Promise<void> => {
    for await (const entry of Deno.readDir(path)) {
      const full = `${path}/${entry.name}`;
      if (depth === 0 && entry.name === ".rad69") continue; // lock, journal
      if (entry.isDirectory) {
        assert.ok(depth < 2, `unexpected directory ${full}`);
        await walk(full, depth + 1);
        continue;
      }
      assert.equal(depth, 2, `file outside <study>/<series>/: ${full}`);
      assert.match(
        entry.name,
        /^[0-9.]+\.dcm$/,
        `partial or stray file ${full}`,
      );
      const uid = entry.name.slice(0, -4);
      const source = sources.get(uid);
      assert.ok(source, `file of an unknown instance: ${full}`);
      assert.ok(
        sameBytes(await Deno.readFile(full), source),
        `file ${full} differs from the source`,
      );
      found.push(uid);
    }
  };
  await walk(dir, 0);
  return found.sort();
}

/** A small seeded PRNG (xorshift32): the same seed gives the same sequence. */
export class SeededRandom {
  #state: number;

  /**
   * Creates the generator.
   *
   * @param seed Any integer; 0 is replaced by a fixed constant.
   */
  constructor(seed: number) {
    this.#state = (seed | 0) || 0x2545f491;
  }

  /**
   * The next 32-bit unsigned value.
   *
   * @returns A value in [0, 2^32).
   */
  nextUint32(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x;
    return x >>> 0;
  }

  /**
   * An integer in `[0, n)`.
   *
   * @param n The bound (> 0).
   * @returns The integer.
   */
  int(n: number): number {
    return this.nextUint32() % n;
  }

  /**
   * `true` with probability `p`.
   *
   * @param p The probability.
   * @returns The draw.
   */
  chance(p: number): boolean {
    return this.nextUint32() / 2 ** 32 < p;
  }

  /**
   * One element of a non-empty array.
   *
   * @param items The choices.
   * @returns One of them.
   */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** Every index where `needle` occurs in `haystack`. */
export function indexesOf(haystack: Uint8Array, needle: Uint8Array): number[] {
  const out: number[] = [];
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    out.push(i);
  }
  return out;
}

/** One whole answer of the fake server, fetched without the client. */
export interface RawAnswer {
  /** The Content-Type header. */
  readonly contentType: string;
  /** The boundary from the Content-Type, when multipart. */
  readonly boundary: string | undefined;
  /** The whole body. */
  readonly body: Uint8Array;
}

/**
 * POSTs a RAD-69 request and reads the whole answer, to learn its size and
 * where its delimiters are.
 *
 * @param url The endpoint.
 * @param request The request body and Content-Type.
 * @returns The answer.
 */
export async function fetchAnswer(
  url: string,
  request: { body: Uint8Array; contentType: string },
): Promise<RawAnswer> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": request.contentType },
    body: request.body as Uint8Array<ArrayBuffer>,
  });
  const body = await response.bytes();
  const contentType = response.headers.get("content-type") ?? "";
  const match = /boundary="?([^";]+)"?/i.exec(contentType);
  return { contentType, boundary: match?.[1], body };
}
