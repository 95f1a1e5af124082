/**
 * Concurrent retrieval: runs the requests of a plan (one per series or bin)
 * up to N at once, in Web Workers (fetch, split and DICOM decode off the
 * main thread, bytes transferred back without a copy) or, when a custom
 * `fetch` or `Deno.HttpClient` is given (neither can be sent to a worker),
 * as N concurrent exchanges on the main thread.
 *
 * @module
 */

import type { Rad69TlsOptions } from "./tls.ts";
import { Rad69Error } from "./errors.ts";
import type { InstanceReference } from "./reference_types.ts";
import type { ExchangeOutcome, InstanceOutcome } from "./outcome.ts";
import type { Rad69Instance } from "./instance.ts";
import { retrieveWithRetries } from "./retry.ts";
import type { RetryOptions } from "./retry.ts";
import {
  DEFAULTS,
  type ExchangeConfig,
  resolveExchangeConfig,
} from "./config.ts";
import {
  toWorkerJobOptions,
  type WorkerJobOptions,
} from "./workers/_messages.ts";
import { WorkerPool, type WorkerPoolOptions } from "./workers/worker_pool.ts";
import {
  type RunBatch,
  type RunnerHost,
  startInWorker,
  startOnMainThread,
} from "./scheduler/batch_runners.ts";
import { type BatchState, Fifo, spareCoreGate } from "./scheduler/flow.ts";

/**
 * Options of {@linkcode retrieveConcurrently}.
 *
 * @example Two series at once, yielded in plan order
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ConcurrentRetrieveOptions, retrieveConcurrently } from "./concurrent.ts";
 * import { planBatches } from "./client.ts";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 2, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * const options: ConcurrentRetrieveOptions = {
 *   url: server.url,
 *   concurrency: 2,
 *   workers: false, // concurrent exchanges on the main thread
 *   ordered: true,
 * };
 * const outcomes = await Array.fromAsync(
 *   retrieveConcurrently(planBatches(study), options),
 * );
 * assert.deepEqual(
 *   outcomes.map((o) => `${o.status} ${o.ref.seriesUid}`),
 *   study.map((i) => `delivered ${i.seriesUid}`),
 * );
 * ```
 */
export interface ConcurrentRetrieveOptions
  extends RetryOptions, SchedulerOptions {}

/** How the scheduler runs the batches (the exchange options aside). */
export interface SchedulerOptions {
  /**
   * The most requests in flight at once (the number of workers).
   *
   * @default {2}
   */
  concurrency?: number;
  /**
   * Run the requests in Web Workers. Ignored (the requests run on the main
   * thread) when `fetch` or `client` is given: neither can be sent to a
   * worker; give `tls` instead of `client` to keep workers.
   *
   * @default {true}
   */
  workers?: boolean;
  /**
   * Yield the outcomes of each request in plan order (streaming within the
   * current request, buffering later ones) instead of as they arrive.
   *
   * @default {false}
   */
  ordered?: boolean;
  /**
   * TLS material (PEM) from which each worker builds its own
   * `Deno.HttpClient`.
   */
  tls?: Rad69TlsOptions;
  /**
   * How many delivered instances a request may hold ahead of the consumer
   * before it stops reading its body (flow control). Memory stays within
   * about `2 × concurrency × prefetch` instances.
   *
   * @default {2}
   */
  prefetch?: number;
  /**
   * Start background workers only while a logical core is free (measured
   * from the process's CPU time); until then requests run on the main
   * thread. Needs warm start.
   *
   * @default {false}
   */
  adaptive?: boolean;
  /**
   * Start requests on the main thread while the workers load, instead of
   * waiting for them: creating a worker and loading its modules takes
   * 50 to 150 ms, and the first requests would wait that long. Workers are
   * created in the background, one at a time, once the call has run 50 ms
   * and requests remain (a call whose plan fits in the first `concurrency`
   * requests, or that ends sooner, creates none). Each request then starts
   * in a loaded, free worker when there is one, else on the main thread
   * while workers are still loading. Not used with `tls`.
   *
   * @default {true}
   */
  warmStart?: boolean;
  /**
   * The worker module. Meant for tests.
   *
   * @default {the package's retrieve worker}
   */
  workerUrl?: string | URL;
}

/**
 * With warm start, workers are created once a call has run this long: a call
 * that ends sooner never pays for them (each takes tens of ms of the main
 * thread to create, and 50 to 150 ms to load).
 */
const WARM_START_DELAY_MS = 50;

/**
 * Runs the requests of a plan up to `concurrency` at once and yields one
 * outcome per requested instance, as they arrive (or per request in plan
 * order with `ordered`). Accounting is per instance, exactly as with
 * {@linkcode retrieveWithRetries}: a failure of one request (an error, a
 * crashed worker) is reported for its own instances only; the others'
 * results are kept.
 *
 * Jobs are taken from a queue, so a big series does not idle the other
 * workers. The worker pool is created when first needed and terminated
 * when the iteration ends, throws or is abandoned (`break`). No request is
 * sent before iteration starts. Reading is flow-controlled: a request stops
 * reading its body while `prefetch` of its instances wait for the consumer.
 *
 * From workers, `onBytes` gets batched counts (about one call per MiB or
 * 100 ms), `onAttempt` and the logger get every report and line, and a
 * delivered instance's dataset is parsed on the main thread on first
 * access (the worker already checked it).
 *
 * @param batches The requests: each a list of instances.
 * @param options Transport, request, retry and concurrency options.
 * @returns The outcomes.
 * @throws {DOMException} The signal's reason when `signal` aborts (promptly;
 * no worker is left running).
 * @throws {Error} What a callback (`onAttempt`, `onBytes`, the logger)
 * threw, when it was called for a worker's message.
 *
 * @example Retrieve two series, two requests at a time
 * ```ts
 * import assert from "node:assert/strict";
 * import { planBatches } from "./client.ts";
 * import { retrieveConcurrently } from "./concurrent.ts";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 2, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * const batches = planBatches(study.map(({ studyUid, seriesUid, instanceUid }) => ({
 *   studyUid,
 *   seriesUid,
 *   instanceUid,
 * })));
 * let delivered = 0;
 * for await (const outcome of retrieveConcurrently(batches, {
 *   url: server.url,
 *   concurrency: 2,
 * })) {
 *   if (outcome.status === "delivered") delivered++;
 * }
 * assert.equal(delivered, 4);
 * assert.equal(server.requests.length, 2);
 * ```
 */
export async function* retrieveConcurrently(
  batches: readonly (readonly InstanceReference[])[],
  options:
    | ConcurrentRetrieveOptions
    | (SchedulerOptions & { readonly config: ExchangeConfig }),
): AsyncGenerator<InstanceOutcome, void, undefined> {
  const config = "config" in options
    ? options.config
    : resolveExchangeConfig(options);
  const run = new ConcurrentRun<Rad69Instance>(batches, options, config);
  yield* run.outcomes();
}

/**
 * Runs the requests of a plan up to `concurrency` at once on the main
 * thread, each with `runBatch` (which decides what a delivered instance
 * becomes: a file written as it arrives, for `download()`). Otherwise as
 * {@linkcode retrieveConcurrently}; a {@linkcode SinkError} from a request
 * stops the run and its cause is thrown.
 *
 * @param batches The requests.
 * @param options Concurrency, order, prefetch (workers are not used).
 * @param config The resolved config.
 * @param runBatch Runs one request.
 * @returns The outcomes.
 */
export async function* runConcurrently<Delivered>(
  batches: readonly (readonly InstanceReference[])[],
  options: SchedulerOptions,
  config: ExchangeConfig,
  runBatch: RunBatch<Delivered>,
): AsyncGenerator<
  ExchangeOutcome<InstanceReference, Delivered>,
  void,
  undefined
> {
  const run = new ConcurrentRun(
    batches,
    { ...options, workers: false },
    config,
    runBatch,
  );
  yield* run.outcomes();
}

/** Checks a whole-number option of at least 1. */
function wholeAtLeastOne(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Invalid ${name} "${value}": expected a whole number >= 1`,
    );
  }
  return value;
}

/**
 * One concurrent run: starts requests up to the concurrency (and a window
 * of requests not yet consumed), on the main thread or in workers, and
 * hands the outcomes out in arrival or plan order.
 */
class ConcurrentRun<Delivered> implements RunnerHost<Delivered> {
  readonly config: ExchangeConfig;
  readonly prefetch: number;
  readonly signal: AbortSignal;
  readonly runBatch: RunBatch<Delivered>;
  readonly #batches: readonly (readonly InstanceReference[])[];
  readonly #options: SchedulerOptions;
  readonly #concurrency: number;
  readonly #ordered: boolean;
  readonly #useWorkers: boolean;
  readonly #custom: boolean;
  readonly #warmStart: boolean;
  readonly #window: number;
  readonly #stop = new AbortController();
  readonly #states: BatchState<Delivered>[] = [];
  readonly #arrivals = new Fifo<
    [BatchState<Delivered>, ExchangeOutcome<InstanceReference, Delivered>]
  >();
  readonly #tasks: Promise<void>[] = [];
  #pool: WorkerPool | undefined;
  #workersFailed = false;
  #jobOptions: WorkerJobOptions | undefined;
  #next = 0;
  #running = 0;
  #open = 0;
  #consumed = 0;
  #head = 0;
  #fatal: { error: unknown } | undefined;
  #wakeUp: (() => void) | undefined;

  constructor(
    batches: readonly (readonly InstanceReference[])[],
    options: SchedulerOptions,
    config: ExchangeConfig,
    runBatch?: RunBatch<Delivered>,
  ) {
    this.config = config;
    // Without a runBatch, instances are held in memory (Rad69Instance),
    // which is also what workers hand back.
    this.runBatch = runBatch ??
      (retrieveWithRetries as unknown as RunBatch<Delivered>);
    this.#batches = batches;
    this.#options = options;
    this.#concurrency = wholeAtLeastOne(
      "concurrency",
      options.concurrency ?? DEFAULTS.concurrency,
    );
    this.prefetch = wholeAtLeastOne(
      "prefetch",
      options.prefetch ?? DEFAULTS.prefetch,
    );
    this.#ordered = options.ordered ?? DEFAULTS.ordered;
    // Functions and resources cannot be handed to a worker.
    const custom = config.fetch !== globalThis.fetch ||
      config.client !== undefined || config.auth !== undefined;
    this.#custom = custom;
    const wanted = options.workers ?? true;
    this.#useWorkers = wanted && !custom && runBatch === undefined;
    this.#warmStart = this.#useWorkers && (options.warmStart ?? true) &&
      options.tls === undefined;
    this.#window = 2 * this.#concurrency;
    this.signal = config.signal
      ? AbortSignal.any([config.signal, this.#stop.signal])
      : this.#stop.signal;
  }

  #wake(): void {
    const resolve = this.#wakeUp;
    this.#wakeUp = undefined;
    resolve?.();
  }

  emit(
    state: BatchState<Delivered>,
    outcome: ExchangeOutcome<InstanceReference, Delivered>,
    at: number,
  ): void {
    if (at < 0 || state.settled[at]) return;
    state.settled[at] = true;
    if (this.#ordered) state.buffer.push(outcome);
    else this.#arrivals.push([state, outcome]);
    this.#wake();
  }

  end(state: BatchState<Delivered>, error?: Rad69Error): void {
    if (state.ended) return;
    state.ended = true;
    this.#running--;
    state.refs.forEach((ref, at) => {
      if (state.settled[at]) return;
      this.emit(state, {
        status: "failed",
        ref,
        error: error ??
          new Rad69Error(
            `Request ${
              state.index + 1
            } ended without an outcome for instance "${ref.instanceUid}"`,
            { instance: ref },
          ),
      }, at);
    });
    this.#pump();
    this.#wake();
  }

  guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#fatal ??= { error };
      this.#wake();
    }
  }

  stop(error: unknown): void {
    this.#fatal ??= { error };
    this.#wake();
  }

  track(task: Promise<void>): void {
    this.#tasks.push(task);
  }

  #createPool(): WorkerPool {
    const size = Math.min(this.#concurrency, this.#batches.length);
    const poolOptions: WorkerPoolOptions = { size };
    if (this.#options.workerUrl !== undefined) {
      poolOptions.workerUrl = this.#options.workerUrl;
    }
    if (this.#options.adaptive) poolOptions.spawnGate = spareCoreGate();
    return new WorkerPool(poolOptions);
  }

  #startInWorker(state: BatchState<Delivered>, pool: WorkerPool): void {
    // Only runs that hold instances in memory use workers (see the
    // constructor): Delivered is Rad69Instance here.
    const host = this as unknown as RunnerHost<Rad69Instance>;
    const inWorker = state as unknown as BatchState<Rad69Instance>;
    this.#jobOptions ??= toWorkerJobOptions(this.config, {
      tls: this.#options.tls,
      prefetch: this.prefetch,
    });
    startInWorker(host, inWorker, pool, this.#jobOptions, (error, loaded) => {
      if (loaded || this.#options.tls !== undefined) {
        this.end(state, error);
        return;
      }
      // The worker never loaded: the request was not sent. Run it here,
      // and every later one too.
      if (!this.#workersFailed) {
        this.#workersFailed = true;
        this.config.logger.warn?.(
          `Running the requests on the main thread: a worker could not start (${error.message})`,
        );
      }
      startOnMainThread(this, state);
    });
  }

  #start(state: BatchState<Delivered>): void {
    if (!this.#useWorkers || this.#workersFailed) {
      return startOnMainThread(this, state);
    }
    // Warm start: no loaded worker free yet, but some are (about to be)
    // loading: start on the main thread rather than wait for them.
    const pool = this.#pool;
    const onMain = this.#warmStart &&
      (!pool || (pool.idleReady === 0 && pool.starting > 0));
    if (onMain) return startOnMainThread(this, state);
    this.#pool ??= this.#createPool();
    this.#startInWorker(state, this.#pool);
  }

  #pump(): void {
    const total = this.#batches.length;
    while (
      this.#next < total && this.#running < this.#concurrency &&
      this.#open < this.#window && !this.#stop.signal.aborted
    ) {
      const refs = this.#batches[this.#next]!;
      const state: BatchState<Delivered> = {
        index: this.#next++,
        refs,
        byUid: new Map(refs.map((ref) => [ref.instanceUid, ref])),
        settled: refs.map(() => false),
        buffer: new Fifo(),
        unconsumed: refs.length,
        ended: false,
        credit: () => {},
        cancel: () => {},
      };
      this.#states.push(state);
      this.#running++;
      if (refs.length === 0) {
        this.#consumed++;
        this.end(state);
        continue;
      }
      this.#open++;
      this.config.logger.debug?.(
        `Request ${
          state.index + 1
        } of ${total}: ${refs.length} instance(s) of series ${
          refs[0]!.seriesUid
        }`,
      );
      this.#start(state);
    }
    // Load workers in the background for the requests still to come (none
    // for a plan that fits in the first wave).
    if (
      this.#warmStart && !this.#workersFailed && this.#next < total &&
      !this.#stop.signal.aborted
    ) {
      this.#pool ??= this.#createPool();
      this.#pool.prestart(
        Math.min(this.#concurrency, total - this.#next),
        WARM_START_DELAY_MS,
      );
    }
  }

  #take():
    | [BatchState<Delivered>, ExchangeOutcome<InstanceReference, Delivered>]
    | undefined {
    if (!this.#ordered) return this.#arrivals.shift();
    while (this.#head < this.#states.length) {
      const state = this.#states[this.#head]!;
      const outcome = state.buffer.shift();
      if (outcome) return [state, outcome];
      if (state.unconsumed > 0) return undefined;
      this.#head++;
    }
    return undefined;
  }

  /** Runs the plan and yields its outcomes. */
  async *outcomes(): AsyncGenerator<
    ExchangeOutcome<InstanceReference, Delivered>,
    void,
    undefined
  > {
    const signal = this.config.signal;
    signal?.throwIfAborted();
    const total = this.#batches.length;
    if (total === 0) return;
    this.config.logger.debug?.(
      (this.#options.workers ?? true) && this.#custom
        ? `Running up to ${this.#concurrency} request(s) at once on the main thread: a custom fetch or Deno.HttpClient (or an authentication hook) cannot be handed to workers`
        : `Running ${total} request(s), up to ${this.#concurrency} at once${
          this.#useWorkers ? " in workers" : " on the main thread"
        }`,
    );
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      if (!signal) return;
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    aborted.catch(() => {});
    try {
      this.#pump();
      // Until every outcome was yielded and every request reported its end
      // (its last attempt report and byte count come after its last
      // outcome).
      while (this.#consumed < total || this.#running > 0) {
        signal?.throwIfAborted();
        if (this.#fatal) throw this.#fatal.error;
        const item = this.#take();
        if (!item) {
          await Promise.race([
            new Promise<void>((resolve) => this.#wakeUp = resolve),
            aborted,
          ]);
          continue;
        }
        const [state, outcome] = item;
        if (--state.unconsumed === 0) {
          this.#open--;
          this.#consumed++;
          this.#pump();
        }
        if (outcome.status === "delivered" && !state.ended) state.credit(1);
        yield outcome;
      }
    } finally {
      if (signal && onAbort) signal.removeEventListener("abort", onAbort);
      this.#stop.abort(
        new DOMException("The retrieval was stopped", "AbortError"),
      );
      for (const state of this.#states) if (!state.ended) state.cancel();
      this.#pool?.[Symbol.dispose]();
      await Promise.allSettled(this.#tasks);
    }
  }
}
