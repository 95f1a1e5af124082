/**
 * The log-in requirements every fake endpoint can impose: an XUA assertion
 * in a `wsse:Security` header, or a bearer token / cookie. Private to the
 * testing module.
 *
 * @module
 */

import type { XmlElement } from "../xml.ts";
import { RequestFault } from "./_request.ts";

const SAML2_NS = "urn:oasis:names:tc:SAML:2.0:assertion";

/** What a fake endpoint requires before it answers. */
export interface FakeAuthOptions {
  /**
   * Require a `wsse:Security` header holding a SAML 2.0 assertion: the
   * accepted assertion `ID`, or a function deciding whether an `ID` is
   * (still) valid, so a test can expire it. A request without the header, or
   * with an assertion that is refused, gets a SOAP 1.2 Fault `env:Sender` /
   * `wsse:FailedAuthentication`, HTTP 500, as WS-Security stacks answer.
   */
  readonly requireAssertion?: string | ((assertionId: string) => boolean);
  /**
   * Require HTTP credentials: the accepted bearer token, or a function
   * deciding from the request headers (a cookie, a token). Refused requests
   * get HTTP 401 with `WWW-Authenticate: Bearer`.
   */
  readonly requireCredentials?: string | ((headers: Headers) => boolean);
}

/** The reason WSS4J gives for `wsse:FailedAuthentication`. */
export const FAILED_AUTHENTICATION_REASON =
  "The security token could not be authenticated or authorized";

/** The `ID` of the first SAML 2.0 assertion inside a Security header. */
function assertionId(security: XmlElement): string | undefined {
  const stack = [...security.children];
  while (stack.length > 0) {
    const el = stack.shift()!;
    if (el.ns === SAML2_NS && el.local === "Assertion") return el.attrs["ID"];
    stack.push(...el.children);
  }
  return undefined;
}

/**
 * Checks a request against the endpoint's log-in requirements.
 *
 * @returns A 401 response, a fault to answer, or `undefined` when the
 * request may be served.
 */
export function checkFakeAuth(
  options: FakeAuthOptions,
  headers: Headers,
  security: XmlElement | undefined,
): Response | RequestFault | undefined {
  const credentials = options.requireCredentials;
  if (credentials !== undefined) {
    const ok = typeof credentials === "string"
      ? headers.get("authorization") === `Bearer ${credentials}`
      : credentials(headers);
    if (!ok) {
      return new Response("Unauthorized\n", {
        status: 401,
        headers: { "www-authenticate": 'Bearer realm="fake"' },
      });
    }
  }
  const required = options.requireAssertion;
  if (required === undefined) return undefined;
  const id = security ? assertionId(security) : undefined;
  if (id === undefined) {
    return new RequestFault(
      security
        ? "The wsse:Security header holds no SAML 2.0 assertion"
        : "A security header is required: no wsse:Security header",
      "Sender",
      "wsse:FailedAuthentication",
      500,
    );
  }
  const ok = typeof required === "string" ? id === required : required(id);
  return ok ? undefined : new RequestFault(
    FAILED_AUTHENTICATION_REASON,
    "Sender",
    "wsse:FailedAuthentication",
    500,
  );
}
