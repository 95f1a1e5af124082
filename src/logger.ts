/**
 * The logging interface the client reports diagnostics through.
 *
 * @module
 */

/**
 * Where the client sends diagnostics. Every method is optional; `console`
 * fits.
 *
 * @example Log everything to the console
 * ```ts ignore
 * new Rad69Client({ url, logger: console });
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

/** A logger that drops everything. */
export const silentLogger: Rad69Logger = {};

/**
 * The default logger: warnings to the console, nothing else.
 */
export const warningLogger: Rad69Logger = {
  warn(message: string): void {
    // deno-lint-ignore no-console
    console.warn(`rad69: ${message}`);
  },
};
