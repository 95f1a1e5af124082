/**
 * The small parts the scheduler is built from: per-request state, a FIFO,
 * the flow-control gate of a main-thread request, the spare-core gate that
 * decides when a worker may start, and error wrapping.
 *
 * @module
 */

import process from "node:process";
import { Rad69Error } from "../errors.ts";
import type { ExchangeOutcome } from "../outcome.ts";
import type { Rad69Instance } from "../instance.ts";
import type { InstanceReference } from "../reference_types.ts";

/**
 * A spawn gate that lets a worker start only while a core is free: it
 * measures the process's CPU time since the last check and allows a start
 * when at least one logical core was idle. With warm start, requests keep
 * running on the main thread meanwhile, so a CPU-bound call on a small
 * machine (where a worker would only take CPU from the main thread) never
 * pays for workers, and a latency-bound one gets them.
 */
export function spareCoreGate(): () => boolean {
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
export class Fifo<T> {
  #items: T[] = [];
  #head = 0;

  /** Adds an item at the end. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** Takes the first item, or `undefined`. */
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
export interface BatchState<Delivered = Rad69Instance> {
  readonly index: number;
  readonly refs: readonly InstanceReference[];
  readonly byUid: Map<string, InstanceReference>;
  /** Which refs already have an outcome. */
  readonly settled: boolean[];
  /** Outcomes produced but not yet yielded (ordered mode). */
  readonly buffer: Fifo<ExchangeOutcome<InstanceReference, Delivered>>;
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
export class CreditGate {
  #granted = 0;
  #delivered = 0;
  #wake: (() => void) | undefined;
  #prefetch: number;
  #signal: AbortSignal;

  #onAbort = () => this.#wake?.();

  /**
   * @param prefetch How many instances may run ahead of the consumer.
   * @param signal Ends every wait.
   */
  constructor(prefetch: number, signal: AbortSignal) {
    this.#prefetch = prefetch;
    this.#signal = signal;
    signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Stops listening to the signal. */
  close(): void {
    this.#signal.removeEventListener("abort", this.#onAbort);
  }

  /** Lets `count` more delivered instances through. */
  grant(count: number): void {
    this.#granted += count;
    this.#wake?.();
  }

  /** Notes a delivered instance; waits while the consumer is behind. */
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

/** The message of anything thrown. */
function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Keeps a Rad69Error; wraps anything else in one that names `what`. */
export function asRad69Error(
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
