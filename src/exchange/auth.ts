/**
 * Log-ins that real deployments need, on the exchange core: an XUA
 * `wsse:Security` header asked for per request (a SAML assertion, inserted
 * byte for byte, so an expiring one is refreshed), and a hook called once
 * when the server refuses the credentials, which may log in again and
 * return fresh headers. Assertions, cookies and tokens are added to the
 * secrets that every error, log line and report is redacted with.
 *
 * @module
 */

import type { ExchangeConfig } from "../config.ts";
import {
  AuthenticationError,
  type Rad69Error,
  Rad69HttpError,
  SoapFaultError,
} from "../errors.ts";
import { collectSecrets } from "../redact.ts";
import type { Session } from "./auth_types.ts";
export type { AuthHooks, Session, UnauthorizedEvent } from "./auth_types.ts";

/** SOAP Fault codes and words that mean "your credentials are refused". */
const SECURITY_FAULT =
  /FailedAuthentication|InvalidSecurity(Token)?|SecurityTokenUnavailable|FailedCheck|MessageExpired|UnsupportedSecurityToken|Unauthori[sz]ed|expired assertion|assertion (has )?expired/i;

/** How many renewed assertions stay in the secrets (older ones expired). */
const KEPT_ASSERTIONS = 4;

/**
 * Whether an error is the server refusing the credentials.
 *
 * @param error A failure of an exchange.
 * @returns `true` for HTTP 401/403 and security SOAP Faults.
 */
export function isUnauthorized(error: unknown): boolean {
  if (error instanceof SoapFaultError) {
    return SECURITY_FAULT.test(
      `${error.code} ${error.subcode} ${error.reason}`,
    ) || error.status === 401 || error.status === 403;
  }
  return error instanceof Rad69HttpError &&
    (error.status === 401 || error.status === 403);
}

const assertions = new WeakMap<Session, string[]>();

/** Adds a value to the session's secrets, once. */
function addSecret(session: Session, value: string): void {
  if (value.length > 0 && !session.secrets.includes(value)) {
    session.secrets.push(value);
  }
}

/**
 * The security header for the next request, if the config asks for one;
 * the assertion becomes a secret.
 *
 * @param config The exchange's config.
 * @returns The header's XML, or `undefined`.
 * @throws {AuthenticationError} When the callback fails or returns no XML.
 */
export async function securityHeaderFor(
  config: ExchangeConfig,
): Promise<string | undefined> {
  const get = config.auth?.securityHeader;
  if (!get) return undefined;
  const url = config.settings.printableUrl;
  let xml: unknown;
  try {
    xml = await get();
  } catch (cause) {
    throw new AuthenticationError(
      `The securityHeader callback failed for ${url}: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { url, cause },
    );
  }
  if (typeof xml !== "string" || !xml.trimStart().startsWith("<")) {
    throw new AuthenticationError(
      `The securityHeader callback for ${url} returned ${
        typeof xml === "string" ? "text that is not XML" : typeof xml
      }, expected the XML of a <wsse:Security> element`,
      { url },
    );
  }
  const session = config.session;
  const kept = assertions.get(session) ?? [];
  if (!kept.includes(xml)) {
    kept.push(xml);
    addSecret(session, xml);
    while (kept.length > KEPT_ASSERTIONS) {
      const old = kept.shift()!;
      const at = session.secrets.indexOf(old);
      if (at >= 0) session.secrets.splice(at, 1);
    }
    assertions.set(session, kept);
  }
  return xml;
}

/**
 * Calls `onUnauthorized` for a refusal and keeps the headers it returns.
 *
 * @param config The exchange's config.
 * @param error The refusal.
 * @returns `true` when a hook ran (the request may be sent again), `false`
 * when there is no hook.
 * @throws {AuthenticationError} When the hook throws.
 */
export async function relogin(
  config: ExchangeConfig,
  error: Rad69Error,
): Promise<boolean> {
  const hook = config.auth?.onUnauthorized;
  if (!hook) return false;
  const url = config.settings.printableUrl;
  const status = error instanceof Rad69HttpError ||
      error instanceof SoapFaultError
    ? error.status
    : 0;
  config.logger.info?.(
    `${url} refused the credentials (HTTP ${status}); calling onUnauthorized`,
  );
  let fresh: HeadersInit | void;
  try {
    fresh = await hook({ status, url, error });
  } catch (cause) {
    throw new AuthenticationError(
      `Re-login for ${url} failed: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { url, cause },
    );
  }
  if (fresh) {
    const headers = new Headers(fresh);
    headers.forEach((value, name) => {
      config.session.headers.set(name, value);
      // Whatever a log-in returns is a credential.
      addSecret(config.session, value);
    });
    for (const secret of collectSecrets(undefined, headers)) {
      addSecret(config.session, secret);
    }
  }
  return true;
}

/**
 * The error for a request still refused after a re-login.
 *
 * @param config The exchange's config.
 * @param error The second refusal.
 * @returns An {@linkcode AuthenticationError} naming the endpoint.
 */
export function stillRefused(
  config: ExchangeConfig,
  error: Rad69Error,
): AuthenticationError {
  const url = config.settings.printableUrl;
  return new AuthenticationError(
    `${url} still refused the credentials after onUnauthorized logged in again: ${error.message}`,
    {
      url,
      cause: error,
      ...(error.instance ? { instance: error.instance } : {}),
    },
  );
}
