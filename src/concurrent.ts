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
import { Rad69Instance } from "./instance.ts";
import type { InstanceReference } from "./reference_types.ts";
import type { AttemptReport, InstanceOutcome } from "./outcome.ts";
import { retrieveWithRetries, type RetryOptions } from "./retry.ts";
import {
  DEFAULTS,
  type ExchangeConfig,
  resolveExchangeConfig,
  withCallbacks,
} from "./config.ts";
import {
  deserializeError,
  toWorkerJobOptions,
  type WorkerJobOptions,
  type WorkerToMainMessage,
} from "./workers/_messages.ts";
import process from "node:process";
import {
  type WorkerJob,
  WorkerPool,
  type WorkerPoolOptions,
} from "./workers/worker_pool.ts";

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
 * A spawn gate that lets a worker start only while a core is free: it
 * measures the process's CPU time since the last check and allows a start
 * when at least one logical core was idle. With warm start, requests keep
 * running on the main thread meanwhile, so a CPU-bound call on a small
 * machine (where a worker would only take CPU from the main thread) never
 * pays for workers, and a latency-bound one gets them.
 */
function spareCoreGate(): () => boolean {
  const cores = Math.max(1, navigator.hardwareConcurrency ?? 1);
  let lastCpu = process.cpuUsage();
  let lastWall = performance.now();
  return () => {
    const now = performance.now();
    const used = process.cpuUsage(lastCpu);
    const wall = now - lastWall;
    lastCpu = process.cpuUsage();
    lastWall = now;
    if (wall <= 0) return false;
    const busyCores = (used.user + used.system) / 1000 / wall;
    return cores - busyCores >= 1;
  };
}

/** A FIFO queue with O(1) take. */
class Fifo<T> {
  #items: T[] = [];
  #head = 0;

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as T;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

/** Per-request state of a run. */
interface BatchState {
  readonly index: number;
  readonly refs: readonly InstanceReference[];
  readonly byUid: Map<string, InstanceReference>;
  /** Which refs already have an outcome. */
  readonly settled: boolean[];
  /** Outcomes produced but not yet yielded (ordered mode). */
  readonly buffer: Fifo<InstanceOutcome>;
  /** Outcomes not yet yielded (produced or not). */
  unconsumed: number;
  /** The request finished (every outcome produced). */
  ended: boolean;
  /** Grants credit for `count` more delivered instances. */
  credit: (count: number) => void;
  /** Stops the request. */
  cancel: () => void;
}

/** A flow-control gate of a main-thread request. */
class CreditGate {
  #granted = 0;
  #delivered = 0;
  #wake: (() => void) | undefined;
  #prefetch: number;
  #signal: AbortSignal;

  #onAbort = () => this.#wake?.();

  constructor(prefetch: number, signal: AbortSignal) {
    this.#prefetch = prefetch;
    this.#signal = signal;
    signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Stops listening to the signal. */
  close(): void {
    this.#signal.removeEventListener("abort", this.#onAbort);
  }

  grant(count: number): void {
    this.#granted += count;
    this.#wake?.();
  }

  async delivered(): Promise<void> {
    this.#delivered++;
    while (
      this.#delivered >= this.#granted + this.#prefetch &&
      !this.#signal.aborted
    ) {
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function asRad69Error(
  error: unknown,
  what: string,
  instance?: InstanceReference,
): Rad69Error {
  if (error instanceof Rad69Error) return error;
  const options: { cause: unknown; instance?: InstanceReference } = {
    cause: error,
  };
  if (instance) options.instance = instance;
  return new Rad69Error(`${what}: ${errorText(error)}`, options);
}

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
  const concurrency = options.concurrency ?? DEFAULTS.concurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(
      `Invalid concurrency "${concurrency}": expected a whole number >= 1`,
    );
  }
  const prefetch = options.prefetch ?? DEFAULTS.prefetch;
  if (!Number.isInteger(prefetch) || prefetch < 1) {
    throw new RangeError(
      `Invalid prefetch "${prefetch}": expected a whole number >= 1`,
    );
  }
  const signal = config.signal;
  signal?.throwIfAborted();
  const total = batches.length;
  if (total === 0) return;
  const ordered = options.ordered ?? DEFAULTS.ordered;
  const logger = config.logger;
  const custom = config.fetch !== globalThis.fetch ||
    config.client !== undefined;
  const useWorkers = (options.workers ?? true) && !custom;
  if ((options.workers ?? true) && custom) {
    logger.debug?.(
      `Running up to ${concurrency} request(s) at once on the main thread: a custom fetch or Deno.HttpClient cannot be handed to workers`,
    );
  } else {
    logger.debug?.(
      `Running ${total} request(s), up to ${concurrency} at once${
        useWorkers ? " in workers" : " on the main thread"
      }`,
    );
  }

  const warmStart = useWorkers && (options.warmStart ?? true) &&
    options.tls === undefined;
  const window = 2 * concurrency;
  const stop = new AbortController();
  const localSignal = signal
    ? AbortSignal.any([signal, stop.signal])
    : stop.signal;
  const states: BatchState[] = [];
  const arrivals = new Fifo<[BatchState, InstanceOutcome]>();
  const tasks: Promise<void>[] = [];
  let pool: WorkerPool | undefined;
  let workersFailed = false;
  let jobOptions: WorkerJobOptions | undefined;
  let next = 0;
  let running = 0;
  let open = 0;
  let consumed = 0;
  let head = 0;
  let fatal: { error: unknown } | undefined;
  let wakeUp: (() => void) | undefined;
  const wake = () => {
    const resolve = wakeUp;
    wakeUp = undefined;
    resolve?.();
  };

  const emit = (state: BatchState, outcome: InstanceOutcome, at: number) => {
    if (at < 0 || state.settled[at]) return;
    state.settled[at] = true;
    if (ordered) state.buffer.push(outcome);
    else arrivals.push([state, outcome]);
    wake();
  };

  const end = (state: BatchState, error?: Rad69Error) => {
    if (state.ended) return;
    state.ended = true;
    running--;
    state.refs.forEach((ref, at) => {
      if (state.settled[at]) return;
      emit(state, {
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
    pump();
    wake();
  };

  const guard = (fn: () => void) => {
    try {
      fn();
    } catch (error) {
      fatal ??= { error };
      wake();
    }
  };

  const onWorkerMessage = (state: BatchState, message: WorkerToMainMessage) => {
    const resolveRef = (ref: InstanceReference) =>
      state.byUid.get(ref.instanceUid) ?? ref;
    switch (message.type) {
      case "outcomes":
        for (const wire of message.outcomes) {
          const ref = state.refs[wire.index];
          if (!ref) continue;
          if (wire.status === "delivered") {
            emit(state, {
              status: "delivered",
              ref,
              instance: new Rad69Instance({
                ref,
                bytes: wire.bytes,
                warnings: wire.warnings,
                repositoryUniqueId: wire.repositoryUniqueId,
                mimeType: wire.mimeType,
              }),
            }, wire.index);
          } else {
            const error = deserializeError(wire.error, resolveRef);
            emit(state, {
              status: "failed",
              ref,
              error: asRad69Error(
                error,
                `Instance "${ref.instanceUid}" failed in a worker`,
                ref,
              ),
            }, wire.index);
          }
        }
        break;
      case "bytes":
        guard(() => config.onBytes?.(message.bytes));
        break;
      case "attempt": {
        const { transientError, ...plain } = message.report;
        const report: AttemptReport = transientError
          ? {
            ...plain,
            transientError: asRad69Error(
              deserializeError(transientError, resolveRef),
              "Transient failure",
            ),
          }
          : plain;
        guard(() => config.onAttempt?.(report));
        break;
      }
      case "log":
        guard(() => logger[message.level]?.(message.message));
        break;
      case "done":
        end(state);
        break;
      case "error":
        end(
          state,
          asRad69Error(
            deserializeError(message.error, resolveRef),
            `Request ${state.index + 1} failed in a worker`,
          ),
        );
        break;
    }
  };

  const createPool = (): WorkerPool => {
    const size = Math.min(concurrency, total);
    const poolOptions: WorkerPoolOptions = { size };
    if (options.workerUrl !== undefined) {
      poolOptions.workerUrl = options.workerUrl;
    }
    if (options.adaptive) poolOptions.spawnGate = spareCoreGate();
    return new WorkerPool(poolOptions);
  };

  const startInWorker = (state: BatchState, pool: WorkerPool) => {
    jobOptions ??= toWorkerJobOptions(config, {
      tls: options.tls,
      prefetch,
    });
    let job: WorkerJob | undefined;
    job = pool.submit(state.refs, jobOptions, {
      onMessage: (message) => onWorkerMessage(state, message),
      onCrash: (error, loaded) => {
        if (loaded || options.tls !== undefined) {
          end(state, error);
          return;
        }
        // The worker never loaded: the request was not sent. Run it here,
        // and every later one too.
        if (!workersFailed) {
          workersFailed = true;
          logger.warn?.(
            `Running the requests on the main thread: a worker could not start (${error.message})`,
          );
        }
        startLocally(state);
      },
    });
    state.credit = (count) => job?.credit(count);
    state.cancel = () => {
      job?.cancel();
      job = undefined;
    };
  };

  const startLocally = (state: BatchState) => {
    const gate = new CreditGate(prefetch, localSignal);
    state.credit = (count) => gate.grant(count);
    const byRef = new Map(state.refs.map((ref, at) => [ref, at]));
    const at = (ref: InstanceReference) =>
      byRef.get(ref) ??
        state.refs.findIndex((r) => r.instanceUid === ref.instanceUid);
    const run = async () => {
      let settled = 0;
      try {
        for await (
          const outcome of retrieveWithRetries(
            state.refs,
            withCallbacks(config, { ...config, signal: localSignal }),
          )
        ) {
          emit(state, outcome, at(outcome.ref));
          // Pause reading while the consumer is behind (not after the last
          // outcome: nothing is left to read).
          const left = ++settled < state.refs.length;
          if (outcome.status === "delivered" && left) await gate.delivered();
          if (localSignal.aborted) return;
        }
        end(state);
      } catch (error) {
        if (localSignal.aborted) return;
        end(
          state,
          asRad69Error(error, `Request ${state.index + 1} failed`),
        );
      } finally {
        gate.close();
      }
    };
    tasks.push(run());
  };

  const pump = () => {
    while (
      next < total && running < concurrency && open < window &&
      !stop.signal.aborted
    ) {
      const refs = batches[next]!;
      const state: BatchState = {
        index: next++,
        refs,
        byUid: new Map(refs.map((ref) => [ref.instanceUid, ref])),
        settled: refs.map(() => false),
        buffer: new Fifo(),
        unconsumed: refs.length,
        ended: false,
        credit: () => {},
        cancel: () => {},
      };
      states.push(state);
      running++;
      if (refs.length === 0) {
        consumed++;
        end(state);
        continue;
      }
      open++;
      logger.debug?.(
        `Request ${
          state.index + 1
        } of ${total}: ${refs.length} instance(s) of series ${
          refs[0]!.seriesUid
        }`,
      );
      if (useWorkers && !workersFailed) {
        // Warm start: no loaded worker free yet, but some are (about to be)
        // loading: start on the main thread rather than wait for them.
        const onMain = warmStart &&
          (!pool || (pool.idleReady === 0 && pool.starting > 0));
        if (onMain) {
          startLocally(state);
        } else {
          pool ??= createPool();
          startInWorker(state, pool);
        }
      } else {
        startLocally(state);
      }
    }
    // Load workers in the background for the requests still to come (none
    // for a plan that fits in the first wave).
    if (warmStart && !workersFailed && next < total && !stop.signal.aborted) {
      pool ??= createPool();
      pool.prestart(Math.min(concurrency, total - next), WARM_START_DELAY_MS);
    }
  };

  const take = (): [BatchState, InstanceOutcome] | undefined => {
    if (!ordered) return arrivals.shift();
    while (head < states.length) {
      const state = states[head]!;
      const outcome = state.buffer.shift();
      if (outcome) return [state, outcome];
      if (state.unconsumed > 0) return undefined;
      head++;
    }
    return undefined;
  };

  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    if (!signal) return;
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {});

  try {
    pump();
    // Until every outcome was yielded and every request reported its end
    // (its last attempt report and byte count come after its last outcome).
    while (consumed < total || running > 0) {
      signal?.throwIfAborted();
      if (fatal) throw fatal.error;
      const item = take();
      if (!item) {
        await Promise.race([
          new Promise<void>((resolve) => wakeUp = resolve),
          aborted,
        ]);
        continue;
      }
      const [state, outcome] = item;
      state.unconsumed--;
      if (state.unconsumed === 0) {
        open--;
        consumed++;
        pump();
      }
      if (outcome.status === "delivered" && !state.ended) state.credit(1);
      yield outcome;
    }
  } finally {
    if (signal && onAbort) signal.removeEventListener("abort", onAbort);
    stop.abort(new DOMException("The retrieval was stopped", "AbortError"));
    for (const state of states) if (!state.ended) state.cancel();
    pool?.[Symbol.dispose]();
    await Promise.allSettled(tasks);
  }
}
