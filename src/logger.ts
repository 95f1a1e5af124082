/**
 * The logging interface the client reports diagnostics through.
 *
 * @module
 */

import { escapeForTerminal } from "./terminal_escape.ts";

/**
 * Where the client sends diagnostics. Every method is optional; `console`
 * fits (`logger: console` logs everything). Messages never carry
 * credentials: they are redacted first.
 *
 * @example Collect the warnings of a retried request
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client, type Rad69Logger } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * server.enqueue({ http: { status: 503 } }); // the first answer: busy
 * const warnings: string[] = [];
 * const logger: Rad69Logger = { warn: (message) => warnings.push(message) };
 * const client = new Rad69Client({ url: server.url, logger, retryBaseDelayMs: 1 });
 * for await (const _ of client.datasets(study)) {
 *   // Delivered by the second attempt.
 * }
 * assert.equal(warnings.length, 1);
 * assert.match(warnings[0]!, /^Retrying 1 instance/);
 * ```
 */
export interface Rad69Logger {
  /** Every request, attempt and part (very verbose). */
  debug?(message: string): void;
  /** Progress worth knowing. */
  info?(message: string): void;
  /** Ignored errors, retries, server oddities. */
  warn?(message: string): void;
}

/**
 * A logger that drops everything.
 *
 * @example Keep a client quiet
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "@rad69/client";
 * import { silentLogger } from "./logger.ts";
 *
 * const client = new Rad69Client({
 *   url: "http://127.0.0.1:8080/rad69",
 *   logger: silentLogger,
 * });
 * assert.equal(client.url, "http://127.0.0.1:8080/rad69");
 * ```
 */
export const silentLogger: Rad69Logger = {};

/**
 * The default logger: warnings to the console (prefixed `rad69: `), nothing
 * else.
 *
 * @example Add debug lines to the default
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Rad69Logger } from "@rad69/client";
 * import { warningLogger } from "./logger.ts";
 *
 * const lines: string[] = [];
 * const logger: Rad69Logger = { ...warningLogger, debug: (m) => lines.push(m) };
 * logger.debug?.("POST http://127.0.0.1/rad69");
 * assert.equal(lines.length, 1);
 * assert.equal(typeof logger.warn, "function");
 * ```
 */
export const warningLogger: Rad69Logger = {
  warn(message: string): void {
    // deno-lint-ignore no-console
    console.warn(`rad69: ${escapeForTerminal(message)}`);
  },
};
