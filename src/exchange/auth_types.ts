/**
 * The shapes of the authentication hooks and of the session a client's
 * exchanges share. Types only.
 *
 * @module
 */

import type { Rad69Error } from "../errors.ts";

/** What {@linkcode AuthHooks.onUnauthorized} is told. */
export interface UnauthorizedEvent {
  /** The HTTP status of the refusal. */
  readonly status: number;
  /** The endpoint (credentials redacted). */
  readonly url: string;
  /** The refusal as an error (HTTP 401/403 or a security SOAP Fault). */
  readonly error: Rad69Error;
}

/** Authentication callbacks of an exchange. */
export interface AuthHooks {
  /**
   * Returns the XML of a `<wsse:Security>` header (e.g. a SAML 2.0
   * assertion from the user's STS), called for every SOAP request and
   * inserted byte for byte (it is signed: never re-serialised).
   */
  readonly securityHeader?: (() => string | Promise<string>) | undefined;
  /**
   * Called once when the server refuses the credentials; may log in again
   * and return headers (a fresh cookie or bearer token) to send from then
   * on. The refused request is then sent once more.
   */
  readonly onUnauthorized?:
    | ((
      event: UnauthorizedEvent,
    ) => HeadersInit | void | Promise<HeadersInit | void>)
    | undefined;
}

/**
 * The state a client's exchanges share: headers from a re-login, and the
 * secrets to redact (the configured ones plus assertions and fresh tokens).
 */
export interface Session {
  /** Headers returned by `onUnauthorized`, sent with every later request. */
  readonly headers: Headers;
  /** Every value to redact; grows as credentials are renewed. */
  readonly secrets: string[];
}
