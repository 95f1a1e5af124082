/**
 * Keeps secrets (header values, URL passwords) out of everything the CLI
 * prints.
 *
 * @module
 */

import { redactText } from "../redact.ts";

/**
 * Replaces known secret strings with `[REDACTED]` in any text.
 *
 * @example Redact a header value and its token
 * ```ts
 * import assert from "node:assert/strict";
 * import { Redactor } from "./redact.ts";
 *
 * const redactor = new Redactor();
 * redactor.add("Bearer s3cr3t-token");
 * assert.equal(redactor.redact("sent Bearer s3cr3t-token"), "sent [REDACTED]");
 * assert.equal(redactor.redact("echo: s3cr3t-token"), "echo: [REDACTED]");
 * ```
 */
export class Redactor {
  #secrets: string[] = [];

  /**
   * Adds a secret. A value of the form `Scheme credentials` also adds the
   * credentials alone; the URL-encoded form is added too. Values shorter
   * than 4 characters are not redacted (replacing them would garble UIDs).
   *
   * @param secret The secret.
   */
  add(secret: string): void {
    const values = new Set<string>([secret.trim()]);
    const scheme = /^[A-Za-z][A-Za-z0-9+.-]*\s+(.+)$/.exec(secret.trim());
    if (scheme) values.add(scheme[1]!.trim());
    for (const value of [...values]) values.add(encodeURIComponent(value));
    for (const value of values) {
      if (value.length >= 4 && !this.#secrets.includes(value)) {
        this.#secrets.push(value);
      }
    }
    this.#secrets.sort((a, b) => b.length - a.length);
  }

  /**
   * Removes every known secret from a text.
   *
   * @param text Any text about to be printed.
   * @returns The text with each secret replaced by `[REDACTED]`.
   */
  redact(text: string): string {
    return redactText(text, this.#secrets);
  }
}
