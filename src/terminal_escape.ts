/**
 * Server-provided text made safe for a terminal or a log line: control
 * characters (C0 but tab, DEL, C1, so every escape sequence), line and
 * paragraph separators and bidirectional overrides are shown escaped
 * (`\x1b`, `\n`, `\u009b`, `\u202e`) instead of acting on the terminal.
 *
 * @module
 */

/** What is never written raw: C0 but tab, DEL, C1, U+2028/9, bidi controls. */
const UNSAFE =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** The same characters, for text already JSON-encoded (C0 is escaped). */
const UNSAFE_IN_JSON =
  /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = {
  "\n": "\\n",
  "\r": "\\r",
  "\b": "\\b",
  "\f": "\\f",
  "\v": "\\v",
};

/** The escape of one unsafe character. */
function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  return code < 0x80
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * Escapes text from a server (a SOAP Fault reason, an error body, a
 * RegistryError context, or a message quoting them) for a terminal or a
 * log line: every control character but tab (C0, DEL, C1, and so the ESC
 * of every escape sequence), the line and paragraph separators and the
 * bidirectional controls are replaced by a visible escape, so the text
 * stays on its line and cannot retitle the terminal, erase lines, move the
 * cursor or forge other output. Printable text, tabs and backslashes are
 * kept; the result is never altered by a second call.
 *
 * @param text The text.
 * @returns The text, safe to print on one line.
 *
 * @example A forged summary stays visible as such
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeForTerminal } from "./terminal_escape.ts";
 *
 * assert.equal(
 *   escapeForTerminal("bad\x1b]0;pwned\x07\r\x1b[2KDownloaded 3 of 3\n"),
 *   "bad\\x1b]0;pwned\\x07\\r\\x1b[2KDownloaded 3 of 3\\n",
 * );
 * assert.equal(escapeForTerminal("tab\tkept, \u00e9 too"), "tab\tkept, \u00e9 too");
 * ```
 */
export function escapeForTerminal(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/**
 * Makes JSON text safe for a terminal without changing what it means: the
 * C1 controls, separators and bidirectional controls that
 * `JSON.stringify` leaves raw inside strings become `\uXXXX` escapes (C0
 * controls are escaped by `JSON.stringify` already). Parsing the result
 * gives back the exact strings.
 *
 * @param json Text from `JSON.stringify`.
 * @returns The same JSON value, with those characters escaped.
 *
 * @example The exact text survives, the terminal is safe
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeJsonForTerminal } from "./terminal_escape.ts";
 *
 * const value = { reason: "a\u009b2Jb\x1b[0m" };
 * const json = escapeJsonForTerminal(JSON.stringify(value));
 * assert.equal(json, '{"reason":"a\\u009b2Jb\\u001b[0m"}');
 * assert.deepEqual(JSON.parse(json), value);
 * ```
 */
export function escapeJsonForTerminal(json: string): string {
  return json.replace(
    UNSAFE_IN_JSON,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
