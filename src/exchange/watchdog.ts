/**
 * The timers and error typing of one exchange: a first-byte timeout, an
 * idle timeout that activity re-arms without timer churn, and the mapping
 * of transport failures to typed errors.
 *
 * @module
 */

import type { ExchangeConfig } from "../config.ts";
import {
  Rad69Error,
  Rad69NetworkError,
  Rad69ProtocolError,
} from "../errors.ts";

/**
 * The messages of an error and its causes ("fetch failed: error sending
 * request…: invalid peer certificate: UnknownIssuer"), so that the reason
 * Deno hides in `cause` is shown.
 *
 * @param error Anything thrown.
 * @returns The messages, joined.
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current = error;
  for (let depth = 0; depth < 4 && current !== undefined; depth++) {
    const message = current instanceof Error
      ? current.message
      : String(current);
    if (message !== "" && !parts.some((p) => p.includes(message))) {
      parts.push(message);
    }
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ") || "unknown error";
}

/**
 * The watchdog of one exchange: it turns a late first byte or an idle body
 * into a network error. It is paused while outcomes are handed to the
 * caller, so a slow consumer is never taken for a stalled server.
 */
export class ExchangeWatchdog {
  /** The endpoint URL without credentials. */
  readonly url: string;
  readonly #config: ExchangeConfig;
  readonly #controller: AbortController;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timedOut: string | undefined;
  /** When the watchdog last saw activity (performance.now()). */
  #lastActivity = 0;

  /**
   * @param config The exchange's config.
   * @param controller Aborted when a timeout fires.
   */
  constructor(config: ExchangeConfig, controller: AbortController) {
    this.#config = config;
    this.#controller = controller;
    this.url = config.settings.printableUrl;
  }

  #arm(ms: number, what: string): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#lastActivity = performance.now();
    if (ms > 0) this.#schedule(ms, ms, what);
  }

  /**
   * Fires after `delay` ms; if there was activity meanwhile, waits again for
   * the rest of the window instead (so activity costs no timer churn).
   */
  #schedule(delay: number, ms: number, what: string): void {
    this.#timer = setTimeout(() => {
      const quiet = performance.now() - this.#lastActivity;
      if (quiet < ms) {
        this.#schedule(Math.max(1, ms - quiet), ms, what);
        return;
      }
      this.#timer = undefined;
      this.#timedOut = what;
      this.#controller.abort(new DOMException(what, "TimeoutError"));
    }, delay);
  }

  /** Starts the connect and first-byte timeout. */
  armFirstByte(): void {
    const ms = this.#config.settings.timeoutMs;
    this.#arm(ms, `got no response headers within ${ms} ms`);
  }

  /** (Re)starts the idle timeout. */
  armIdle(): void {
    const ms = this.#config.settings.idleTimeoutMs;
    this.#arm(ms, `stalled: no data for ${ms} ms`);
  }

  /** Stops the watchdog (while the consumer has the outcomes, or for good). */
  pause(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Notes body bytes: keeps the idle timeout alive and reports them. */
  progress(bytes: number): void {
    if (this.#timer === undefined) this.armIdle();
    else this.#lastActivity = performance.now();
    this.#config.onBytes?.(bytes);
  }

  /** Awaits a transport operation, turning its failure into a typed one. */
  async read<T>(operation: Promise<T>): Promise<T> {
    try {
      return await operation;
    } catch (cause) {
      throw this.transportError(cause);
    }
  }

  /**
   * The error for a failed fetch or body read: the caller's abort reason is
   * rethrown; anything else is a (transient) network error.
   */
  transportError(cause: unknown): Rad69Error {
    const userSignal = this.#config.signal;
    if (userSignal?.aborted) throw userSignal.reason;
    if (cause instanceof Rad69Error) return cause;
    if (this.#timedOut) {
      return new Rad69NetworkError(`Request to ${this.url} ${this.#timedOut}`, {
        cause,
      });
    }
    return new Rad69NetworkError(
      `Connection to ${this.url} failed: ${describeError(cause)}`,
      { cause },
    );
  }

  /**
   * The error for anything that stopped the exchange: the caller's abort
   * reason is rethrown; typed errors are kept; anything else (not raised by
   * the transport, which `read` already typed) is reported as a protocol
   * error that keeps it as `cause`.
   */
  failure(cause: unknown): Rad69Error {
    const userSignal = this.#config.signal;
    if (userSignal?.aborted) throw userSignal.reason;
    if (cause instanceof Rad69Error) return cause;
    if (this.#timedOut) return this.transportError(cause);
    return new Rad69ProtocolError(
      `Cannot process the answer from ${this.url}: ${describeError(cause)}`,
      { cause },
    );
  }
}
