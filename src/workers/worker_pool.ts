/**
 * A pool of retrieve workers: module Web Workers spawned lazily (up to a
 * size), a FIFO job queue, one job per worker at a time, replacement of
 * crashed workers, and termination of every worker on dispose.
 *
 * @module
 */

import { Rad69Error } from "../errors.ts";
import type { InstanceReference } from "../reference_types.ts";
import type {
  MainToWorkerMessage,
  WorkerJobOptions,
  WorkerToMainMessage,
} from "./_messages.ts";

/** Options of {@linkcode WorkerPool}. */
export interface WorkerPoolOptions {
  /**
   * The most workers alive at once.
   *
   * @default {navigator.hardwareConcurrency}
   */
  size?: number;
  /**
   * The worker module. Meant for tests (e.g. a worker that crashes).
   *
   * @default {the package's `retrieve_worker.ts`}
   */
  workerUrl?: string | URL;
  /**
   * Asked before each background start (`prestart()`): `false` postpones it
   * (asked again shortly). Lets the caller start workers only when a core is
   * free for them.
   *
   * @default {undefined: always start}
   */
  spawnGate?: () => boolean;
}

/** How long a postponed background start waits before asking again. */
const SPAWN_GATE_RECHECK_MS = 100;

/** What a job's owner hears about it. */
export interface WorkerJobListener {
  /** Every message the worker sends for the job, `done`/`error` last. */
  onMessage(message: WorkerToMainMessage): void;
  /**
   * The worker died while running the job (an uncaught error, or a message
   * that could not be read). Nothing more comes for the job.
   *
   * @param error What happened, naming the worker and the series.
   * @param loaded `false` when the worker died before its modules loaded:
   * the job never started (no request was sent for it).
   */
  onCrash(error: Rad69Error, loaded: boolean): void;
}

/** A submitted job. */
export interface WorkerJob {
  /** The job id (unique within the pool). */
  readonly id: number;
  /** Grants the worker credit for `count` more delivered instances. */
  credit(count: number): void;
  /**
   * Cancels the job: dropped from the queue, or aborted in its worker.
   * Nothing more is reported for it.
   */
  cancel(): void;
}

interface Slot {
  readonly worker: Worker;
  readonly name: string;
  /** The worker loaded its modules (it said so). */
  ready: boolean;
  job: QueuedJob | undefined;
}

interface QueuedJob {
  readonly id: number;
  readonly refs: InstanceReference[];
  readonly options: WorkerJobOptions;
  listener: WorkerJobListener | undefined;
}

const DEFAULT_WORKER_URL = new URL("./retrieve_worker.ts", import.meta.url);

/**
 * A pool of module workers that each run one retrieve job at a time.
 * Workers are spawned on demand, up to `size`; a crashed worker is replaced;
 * disposing the pool terminates them all (`using pool = new WorkerPool()`).
 *
 * @example Run one job
 * ```ts
 * import assert from "node:assert/strict";
 * import { FakeRad69Server, syntheticStudy } from "../testing/mod.ts";
 * import { resolveExchangeConfig } from "../config.ts";
 * import { toWorkerJobOptions } from "./_messages.ts";
 * import { WorkerPool } from "./worker_pool.ts";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * const refs = study.map(({ studyUid, seriesUid, instanceUid }) => ({
 *   studyUid,
 *   seriesUid,
 *   instanceUid,
 * }));
 * await using server = await FakeRad69Server.start({ instances: study });
 * using pool = new WorkerPool({ size: 1 });
 * const config = resolveExchangeConfig({ url: server.url });
 * const options = toWorkerJobOptions(config, { prefetch: 16 });
 * const types = await new Promise<string[]>((resolve, reject) => {
 *   const seen: string[] = [];
 *   pool.submit(refs, options, {
 *     onMessage(message) {
 *       seen.push(message.type);
 *       if (message.type === "done") resolve(seen);
 *       if (message.type === "error") reject(new Error(message.error.message));
 *     },
 *     onCrash: reject,
 *   });
 * });
 * assert.ok(types.includes("outcomes"));
 * assert.equal(types.at(-1), "done");
 * ```
 */
export class WorkerPool implements Disposable {
  #size: number;
  #url: string;
  #slots: Slot[] = [];
  #queue: QueuedJob[] = [];
  #nextId = 1;
  #spawned = 0;
  #disposed = false;
  #prestartTarget = 0;
  #loadFailure: string | undefined;
  #prestartTimer: ReturnType<typeof setTimeout> | undefined;
  #spawnGate: (() => boolean) | undefined;

  /**
   * Creates an empty pool; no worker starts before a job is submitted.
   *
   * @param options The size and the worker module.
   * @throws {RangeError} When `size` is not a whole number >= 1.
   */
  constructor(options: WorkerPoolOptions = {}) {
    const size = options.size ?? Math.max(1, navigator.hardwareConcurrency);
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(
        `Invalid worker pool size "${size}": expected a whole number >= 1`,
      );
    }
    this.#size = size;
    this.#url = String(options.workerUrl ?? DEFAULT_WORKER_URL);
    this.#spawnGate = options.spawnGate;
  }

  /** The most workers alive at once. */
  get size(): number {
    return this.#size;
  }

  /** Workers alive now. */
  get alive(): number {
    return this.#slots.length;
  }

  /** Workers started so far (replacements included). */
  get spawned(): number {
    return this.#spawned;
  }

  /** Jobs waiting for a worker. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Workers that loaded their modules and run no job. */
  get idleReady(): number {
    return this.#slots.filter((s) => s.ready && s.job === undefined).length;
  }

  /** Workers loading their modules, or about to be started by `prestart()`. */
  get starting(): number {
    const pending = this.#loadFailure === undefined
      ? Math.max(0, this.#prestartTarget - this.#slots.length)
      : 0;
    return this.#slots.filter((s) => !s.ready).length + pending;
  }

  /**
   * Why a worker died before its modules loaded (a missing module, no
   * permission to read it…), when one did; then no more are prestarted.
   */
  get loadFailure(): string | undefined {
    return this.#loadFailure;
  }

  /**
   * Starts workers (without jobs) until `count` are alive, at most `size`,
   * one per turn of the event loop: creating a worker blocks the calling
   * thread for a while (tens of ms), so the caller's own work (e.g. sending
   * the first requests) goes first.
   *
   * @param count How many workers should be alive.
   * @param delayMs Milliseconds before the first one is created.
   */
  prestart(count: number, delayMs = 0): void {
    this.#prestartTarget = Math.max(
      this.#prestartTarget,
      Math.min(count, this.#size),
    );
    this.#schedulePrestart(delayMs);
  }

  #schedulePrestart(delayMs = 0): void {
    if (this.#prestartTimer !== undefined || this.#disposed) return;
    if (this.#loadFailure !== undefined) return;
    if (this.#slots.length >= this.#prestartTarget) return;
    this.#prestartTimer = setTimeout(() => {
      this.#prestartTimer = undefined;
      if (this.#disposed) return;
      if (this.#spawnGate && !this.#spawnGate()) {
        this.#schedulePrestart(SPAWN_GATE_RECHECK_MS);
        return;
      }
      if (this.#slots.length < this.#prestartTarget) this.#spawn();
      this.#schedulePrestart();
    }, delayMs);
  }

  /**
   * Queues a job; it runs as soon as a worker is free (one is spawned when
   * the pool is not full).
   *
   * @param refs The instances of one request.
   * @param options How to retrieve them (structured-cloneable).
   * @param listener Where the job's messages go.
   * @returns A handle to grant credit or cancel.
   * @throws {Rad69Error} When the pool was disposed.
   */
  submit(
    refs: readonly InstanceReference[],
    options: WorkerJobOptions,
    listener: WorkerJobListener,
  ): WorkerJob {
    if (this.#disposed) {
      throw new Rad69Error("Cannot submit a job: the worker pool was disposed");
    }
    const job: QueuedJob = {
      id: this.#nextId++,
      refs: [...refs],
      options,
      listener,
    };
    this.#queue.push(job);
    this.#pump();
    return {
      id: job.id,
      credit: (count: number) => {
        const slot = this.#slots.find((s) => s.job === job);
        if (slot && count > 0) {
          this.#post(slot, { type: "credit", id: job.id, count });
        }
      },
      cancel: () => this.#cancel(job),
    };
  }

  #cancel(job: QueuedJob): void {
    job.listener = undefined;
    const queued = this.#queue.indexOf(job);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
      return;
    }
    const slot = this.#slots.find((s) => s.job === job);
    // The worker ends the job and reports it; the slot is freed then.
    if (slot) this.#post(slot, { type: "abort", id: job.id });
  }

  #post(slot: Slot, message: MainToWorkerMessage): void {
    try {
      slot.worker.postMessage(message);
    } catch (cause) {
      this.#crash(
        slot,
        `could not post a message to ${slot.name}: ${errorText(cause)}`,
      );
    }
  }

  #pump(): void {
    while (this.#queue.length > 0 && !this.#disposed) {
      let slot = this.#slots.find((s) => s.job === undefined && s.ready) ??
        this.#slots.find((s) => s.job === undefined);
      if (!slot) {
        if (this.#slots.length >= this.#size) return;
        slot = this.#spawn();
      }
      const job = this.#queue.shift()!;
      slot.job = job;
      this.#post(slot, {
        type: "job",
        id: job.id,
        refs: job.refs,
        options: job.options,
      });
    }
  }

  #spawn(): Slot {
    const name = `rad69-retrieve-${++this.#spawned}`;
    const worker = new Worker(this.#url, { type: "module", name });
    const slot: Slot = { worker, name, ready: false, job: undefined };
    worker.onmessage = (event: MessageEvent<WorkerToMainMessage>) =>
      this.#onMessage(slot, event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#crash(slot, event.message || "uncaught error");
    };
    worker.onmessageerror = () => {
      this.#crash(slot, "a message from the worker could not be read");
    };
    this.#slots.push(slot);
    return slot;
  }

  #onMessage(slot: Slot, message: WorkerToMainMessage): void {
    if (message.type === "ready") {
      slot.ready = true;
      return;
    }
    const job = slot.job;
    if (!job || message.id !== job.id) return;
    const ended = message.type === "done" || message.type === "error";
    if (ended) slot.job = undefined;
    try {
      job.listener?.onMessage(message);
    } finally {
      if (ended) this.#pump();
    }
  }

  #crash(slot: Slot, reason: string): void {
    const index = this.#slots.indexOf(slot);
    if (index < 0) return;
    this.#slots.splice(index, 1);
    slot.worker.terminate();
    // A worker that died while loading would die again: prestart no more.
    if (slot.ready) this.#schedulePrestart();
    else this.#loadFailure ??= reason;
    const job = slot.job;
    slot.job = undefined;
    if (job?.listener) {
      const listener = job.listener;
      job.listener = undefined;
      listener.onCrash(
        new Rad69Error(
          `Worker "${slot.name}" crashed while retrieving ${job.refs.length} instance(s) of series "${
            job.refs[0]?.seriesUid ?? ""
          }": ${reason}`,
        ),
        slot.ready,
      );
    }
    this.#pump();
  }

  /** Terminates every worker and drops queued jobs. Idempotent. */
  [Symbol.dispose](): void {
    if (this.#disposed) return;
    this.#disposed = true;
    clearTimeout(this.#prestartTimer);
    this.#prestartTimer = undefined;
    for (const job of this.#queue) job.listener = undefined;
    this.#queue = [];
    for (const slot of this.#slots) {
      if (slot.job) slot.job.listener = undefined;
      slot.worker.terminate();
    }
    this.#slots = [];
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
