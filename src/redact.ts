/**
 * Redaction of secrets: credentials in URLs (`user:password@host`, secret
 * query parameters) and the values of sensitive request headers
 * (`Authorization`, `Cookie`, API keys…), so that no error message, log
 * line or report carries them, even when a server echoes them back:
 * every secret is also matched in its JSON-escaped, XML-escaped,
 * percent-encoded and base64 forms, and text cut short for an excerpt is
 * cut with {@linkcode cutText}, whose mark lets {@linkcode redactText}
 * redact the prefix of a secret the cut went through.
 *
 * @module
 */

import type { Rad69Logger } from "./logger.ts";
import { escapeForTerminal } from "./terminal_escape.ts";

/**
 * What replaces a secret.
 *
 * @example Check that a line was redacted
 * ```ts
 * import assert from "node:assert/strict";
 * import { REDACTED, redactText } from "./redact.ts";
 *
 * assert.equal(redactText("token=abcd1234", ["abcd1234"]), `token=${REDACTED}`);
 * ```
 */
export const REDACTED = "[REDACTED]";

/** Header names whose values are secrets. */
const SECRET_HEADER =
  /^(authorization|proxy-authorization|cookie|set-cookie)$|auth|token|secret|passw|pwd|api[-_]?key|session|credential|signature|csrf|xsrf|jwt|saml|assertion/i;

/** Query parameter names whose values are secrets. */
const SECRET_PARAM =
  /passw|pwd|secret|token|api[-_]?key|auth|session|(^|[-_.])sig(nature)?($|[-_.])|credential|jwt|saml|ticket|code_verifier|^code$|^key$/i;

/** The shortest value redacted inside free text (shorter ones are noise). */
const MIN_SECRET_LENGTH = 4;

/**
 * What ends a text that was cut short ({@linkcode cutText}): a prefix of a
 * secret (of {@linkcode MIN_EDGE_SECRET} characters or more) just before
 * it is redacted too.
 *
 * @example A cut excerpt ends with the mark
 * ```ts
 * import assert from "node:assert/strict";
 * import { CUT_MARK, cutText } from "./redact.ts";
 *
 * assert.equal(cutText("abcdef", 4), `abc${CUT_MARK}`);
 * ```
 */
export const CUT_MARK = "\u2026";

/** Secrets this long or longer are redacted from a cut edge by prefix. */
const MIN_EDGE_SECRET = 8;
/** The longest secret prefix looked for before a cut mark. */
const MAX_EDGE_PREFIX = 1024;

/** `scheme://userinfo@` at the start of an absolute URL inside text. */
const USERINFO_IN_TEXT = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]*@/gi;

/**
 * Removes credentials from a URL for display: the user info becomes
 * `[REDACTED]` and the values of query parameters with secret-looking names
 * (`token`, `password`, `api_key`, `sig`…) too. A value that is not a URL
 * is returned with any `scheme://user:pass@` inside it redacted.
 *
 * @param url The URL.
 * @returns The URL, safe to print.
 *
 * @example Print a URL with credentials
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactUrl } from "./redact.ts";
 *
 * assert.equal(
 *   redactUrl("https://jim:s3cret@pacs.example/rad69?token=abc&x=1"),
 *   "https://[REDACTED]@pacs.example/rad69?token=[REDACTED]&x=1",
 * );
 * ```
 */
export function redactUrl(url: string | URL): string {
  const text = String(url);
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return text.replace(USERINFO_IN_TEXT, `$1${REDACTED}@`);
  }
  let out = `${parsed.protocol}//`;
  if (parsed.username !== "" || parsed.password !== "") out += `${REDACTED}@`;
  out += parsed.host + parsed.pathname;
  if (parsed.search !== "") {
    const pairs = parsed.search.slice(1).split("&").map((pair) => {
      const eq = pair.indexOf("=");
      if (eq < 0) return pair;
      let name = pair.slice(0, eq);
      try {
        name = decodeURIComponent(name.replace(/\+/g, " "));
      } catch {
        // Keep the raw name.
      }
      return SECRET_PARAM.test(name)
        ? `${pair.slice(0, eq)}=${REDACTED}`
        : pair;
    });
    out += `?${pairs.join("&")}`;
  }
  return out + parsed.hash;
}

/**
 * Removes the user info from a URL (for sending it where it could be logged,
 * e.g. a SOAP `wsa:To`), keeping everything else.
 *
 * @param url An absolute URL.
 * @returns The URL without `user:password@`; the input when not a URL.
 *
 * @example Send a URL without its credentials
 * ```ts
 * import assert from "node:assert/strict";
 * import { stripUserinfo } from "./redact.ts";
 *
 * assert.equal(stripUserinfo("https://jim:pw@pacs/rad69"), "https://pacs/rad69");
 * assert.equal(stripUserinfo("not a URL"), "not a URL");
 * ```
 */
export function stripUserinfo(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === "" && parsed.password === "") return url;
    parsed.username = "";
    parsed.password = "";
    return parsed.href;
  } catch {
    return url;
  }
}

/** Adds a value and its common encodings to a set of secrets. */
function addSecret(secrets: Set<string>, value: string): void {
  const v = value.trim();
  if (v.length < MIN_SECRET_LENGTH) return;
  secrets.add(v);
  try {
    const decoded = decodeURIComponent(v);
    if (decoded.length >= MIN_SECRET_LENGTH) secrets.add(decoded);
  } catch {
    // Not percent-encoded.
  }
  const encoded = encodeURIComponent(v);
  if (encoded !== v) secrets.add(encoded);
}

/** Adds the secrets held by one header value (scheme, token, cookies). */
function addHeaderSecrets(
  secrets: Set<string>,
  name: string,
  value: string,
): void {
  addSecret(secrets, value);
  const lower = name.toLowerCase();
  if (lower === "cookie" || lower === "set-cookie") {
    for (const cookie of value.split(";")) {
      const eq = cookie.indexOf("=");
      if (eq > 0) addSecret(secrets, cookie.slice(eq + 1));
    }
    return;
  }
  // "Bearer <token>", "Basic <base64>", "Digest username=…, response=…".
  const space = value.trim().indexOf(" ");
  if (space > 0) {
    const scheme = value.trim().slice(0, space).toLowerCase();
    const credentials = value.trim().slice(space + 1).trim();
    addSecret(secrets, credentials);
    if (scheme === "basic") {
      try {
        const decoded = atob(credentials);
        addSecret(secrets, decoded);
        const colon = decoded.indexOf(":");
        if (colon >= 0) addSecret(secrets, decoded.slice(colon + 1));
      } catch {
        // Not base64.
      }
    }
    for (const match of credentials.matchAll(/=\s*"?([^",]+)"?/g)) {
      addSecret(secrets, match[1]!);
    }
  }
}

/**
 * Lists the secret values a request carries: sensitive header values (and
 * their parts: a Bearer token, the password inside Basic credentials, each
 * cookie value), the user info of the URL and the values of its secret
 * query parameters. Values shorter than 4 characters are left out (they
 * would redact ordinary text).
 *
 * @param url The request URL.
 * @param headers The request headers.
 * @returns The secrets, longest first (so that a secret is replaced before
 * any shorter secret inside it).
 *
 * @example List the secrets of a request
 * ```ts
 * import assert from "node:assert/strict";
 * import { collectSecrets } from "./redact.ts";
 *
 * const secrets = collectSecrets("https://jim:hunter22@pacs/rad69", {
 *   authorization: "Bearer abc.def.ghi",
 *   accept: "multipart/related",
 * });
 * assert.ok(secrets.includes("hunter22"));
 * assert.ok(secrets.includes("abc.def.ghi"));
 * assert.ok(!secrets.includes("multipart/related"));
 * ```
 */
export function collectSecrets(
  url: string | URL | undefined,
  headers?: HeadersInit,
): string[] {
  const secrets = new Set<string>();
  if (headers !== undefined) {
    let list: Headers;
    try {
      list = new Headers(headers);
    } catch {
      list = new Headers();
    }
    list.forEach((value, name) => {
      if (SECRET_HEADER.test(name)) addHeaderSecrets(secrets, name, value);
    });
  }
  if (url !== undefined) {
    try {
      const parsed = new URL(String(url));
      if (parsed.password !== "") addSecret(secrets, parsed.password);
      if (parsed.username !== "") addSecret(secrets, parsed.username);
      if (parsed.username !== "" || parsed.password !== "") {
        addSecret(secrets, `${parsed.username}:${parsed.password}`);
        try {
          const pair = `${decodeURIComponent(parsed.username)}:${
            decodeURIComponent(parsed.password)
          }`;
          addSecret(secrets, pair);
          // The Basic credentials fetch makes of them, as a server may echo.
          const utf8 = new TextEncoder().encode(pair);
          addSecret(secrets, btoa(String.fromCharCode(...utf8)));
        } catch {
          // Already covered by the raw form.
        }
      }
      for (const [name, value] of parsed.searchParams) {
        if (SECRET_PARAM.test(name)) addSecret(secrets, value);
      }
    } catch {
      // Not a URL: nothing to collect.
    }
  }
  return [...secrets].sort((a, b) => b.length - a.length);
}

/**
 * Cuts a text to at most `max` characters for an excerpt (the mark
 * included), ending it with {@linkcode CUT_MARK} when it was cut (and never inside a surrogate pair),
 * so that {@linkcode redactText} knows where a secret may have been cut
 * through.
 *
 * @param text The text.
 * @param max The most characters kept before the mark.
 * @returns The text, or its head followed by the mark.
 *
 * @example Cut, then redact: the cut prefix of a token goes too
 * ```ts
 * import assert from "node:assert/strict";
 * import { cutText, redactText } from "./redact.ts";
 *
 * const body = "echo: Bearer sk_live_0123456789abcdef";
 * const cut = cutText(body, 21); // "echo: Bearer sk_live…"
 * assert.equal(
 *   redactText(cut, ["Bearer sk_live_0123456789abcdef"]),
 *   "echo: [REDACTED]\u2026",
 * );
 * ```
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - CUT_MARK.length);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return text.slice(0, end).replace(/\uFFFD+$/, "") + CUT_MARK;
}

/** The forms of secrets already computed, by secret. */
const FORMS = new Map<string, readonly string[]>();

/**
 * A secret and the forms a server may echo it in: XML-escaped (named and
 * numeric entities), percent-encoded (upper and lower case hex, `+` for
 * spaces), base64 of its UTF-8 bytes, and each of these JSON-escaped once
 * or twice (an echo in a JSON body, quoted again in an error message).
 */
function formsOf(secret: string): readonly string[] {
  const known = FORMS.get(secret);
  if (known) return known;
  const base = new Set<string>([secret]);
  base.add(secret.replace(/[<>&"']/g, (c) => XML_NAMED[c]!));
  base.add(secret.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`));
  try {
    const percent = encodeURIComponent(secret);
    base.add(percent);
    base.add(percent.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()));
    base.add(percent.replace(/%20/g, "+"));
    base.add(
      percent.replace(
        /[!'()*]/g,
        (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
      ),
    );
  } catch {
    // A lone surrogate: no percent form.
  }
  const utf8 = new TextEncoder().encode(secret);
  let binary = "";
  for (const byte of utf8) binary += String.fromCharCode(byte);
  base.add(btoa(binary));
  base.add(btoa(binary).replace(/=+$/, ""));
  const forms = new Set<string>(base);
  for (const form of base) {
    const once = JSON.stringify(form).slice(1, -1);
    const twice = JSON.stringify(once).slice(1, -1);
    forms.add(once);
    forms.add(once.replace(/\//g, "\\/"));
    forms.add(twice);
  }
  const out = [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH);
  if (FORMS.size > 4096) FORMS.clear();
  FORMS.set(secret, out);
  return out;
}

const XML_NAMED: Readonly<Record<string, string>> = {
  "<": "&lt;",
  ">": "&gt;",
  "&": "&amp;",
  '"': "&quot;",
  "'": "&apos;",
};

/**
 * Redacts, before each cut mark, the longest prefix (4 characters or more)
 * of a form of a secret of 8 or more characters.
 */
function redactCutEdges(text: string, forms: readonly string[]): string {
  let mark = text.indexOf(CUT_MARK);
  while (mark !== -1) {
    let start = mark;
    for (const form of forms) {
      if (form.length < MIN_EDGE_SECRET) continue;
      const longest = Math.min(form.length - 1, mark, MAX_EDGE_PREFIX);
      for (let j = mark - longest; j <= mark - MIN_SECRET_LENGTH; j++) {
        if (j >= start) break;
        if (
          text.charCodeAt(j) === form.charCodeAt(0) &&
          text.startsWith(form.slice(0, mark - j), j)
        ) {
          start = j;
          break;
        }
      }
    }
    if (start < mark) {
      text = text.slice(0, start) + REDACTED + text.slice(mark);
      mark = start + REDACTED.length;
    }
    mark = text.indexOf(CUT_MARK, mark + 1);
  }
  return text;
}

/**
 * Replaces every occurrence of the given secrets, and any URL user info, in
 * a text by `[REDACTED]`. Each secret is matched as it is and in the forms
 * a server may echo it in: JSON-escaped, XML-escaped, percent-encoded and
 * base64. Before each {@linkcode CUT_MARK} (where {@linkcode cutText} cut
 * an excerpt), a prefix of 4 characters or more of a secret of 8 or more
 * is redacted too.
 *
 * @param text The text (a message, a body excerpt…).
 * @param secrets The secret values, as from {@linkcode collectSecrets}.
 * @returns The text, safe to print.
 *
 * @example Redact a server's echo
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactText } from "./redact.ts";
 *
 * assert.equal(
 *   redactText("echo: Bearer abc.def", ["abc.def"]),
 *   "echo: Bearer [REDACTED]",
 * );
 * ```
 */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text.replace(USERINFO_IN_TEXT, `$1${REDACTED}@`);
  const forms: string[] = [];
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    for (const form of formsOf(secret)) forms.push(form);
  }
  // Longest first, so that a secret is replaced before a shorter one in it.
  forms.sort((a, b) => b.length - a.length);
  for (const form of forms) {
    if (!out.includes(form)) continue;
    out = out.split(form).join(REDACTED);
  }
  return out.includes(CUT_MARK) ? redactCutEdges(out, forms) : out;
}

/** String fields of this package's errors that may quote the server. */
const TEXT_FIELDS = [
  "message",
  "stack",
  "url",
  "bodyExcerpt",
  "excerpt",
  "reason",
  "context",
  "location",
] as const;

/**
 * Redacts secrets in an error in place: its message, stack and text fields
 * (`url`, `bodyExcerpt`, `excerpt`, `reason`, `context`, `location`), and
 * those of its `cause` chain (a few levels deep).
 *
 * @param error The error (anything; non-objects are returned as they are).
 * @param secrets The secret values, as from {@linkcode collectSecrets}.
 * @returns The same error.
 *
 * @example Redact an error before logging it
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Error } from "@rad69/client";
 * import { redactError } from "./redact.ts";
 *
 * const cause = new Error("401 for Bearer abc.def");
 * const e = redactError(
 *   new Rad69Error("Server said: Bearer abc.def", { cause }),
 *   ["abc.def"],
 * );
 * assert.equal(e.message, "Server said: Bearer [REDACTED]");
 * assert.equal(cause.message, "401 for Bearer [REDACTED]");
 * ```
 */
export function redactError<T>(error: T, secrets: readonly string[]): T {
  let current: unknown = error;
  for (let depth = 0; depth < 4; depth++) {
    if (current === null || typeof current !== "object") break;
    const record = current as Record<string, unknown>;
    for (const field of TEXT_FIELDS) {
      const value = record[field];
      if (typeof value !== "string") continue;
      const clean = field === "url"
        ? redactText(redactUrl(value), secrets)
        : redactText(value, secrets);
      if (clean === value) continue;
      try {
        record[field] = clean;
      } catch {
        // A frozen or accessor-only field: leave it.
      }
    }
    current = record["cause"];
  }
  return error;
}

/**
 * Wraps a logger so that every line it gets is redacted, and escaped for a
 * terminal (control characters, hence escape sequences and line breaks
 * quoted from a server, are shown as `\x1b`, `\n`…: see
 * `escapeForTerminal`).
 *
 * @param logger The logger to wrap.
 * @param secrets The secret values, as from {@linkcode collectSecrets}.
 * @returns A logger with the same levels as `logger`.
 *
 * @example Wrap a logger
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactLogger } from "./redact.ts";
 *
 * const lines: string[] = [];
 * const logger = redactLogger({ debug: (m) => lines.push(m) }, ["hunter22"]);
 * logger.debug?.("POST https://jim:hunter22@pacs/rad69");
 * assert.deepEqual(lines, ["POST https://[REDACTED]@pacs/rad69"]);
 * assert.equal(logger.warn, undefined); // no level added
 * ```
 */
export function redactLogger(
  logger: Rad69Logger,
  secrets: readonly string[],
): Rad69Logger {
  const out: Rad69Logger = {};
  const clean = (message: string) =>
    escapeForTerminal(redactText(message, secrets));
  if (logger.debug) out.debug = (message) => logger.debug!(clean(message));
  if (logger.info) out.info = (message) => logger.info!(clean(message));
  if (logger.warn) out.warn = (message) => logger.warn!(clean(message));
  return out;
}
