/**
 * The POST of one SOAP request: headers, the first-byte watchdog, no
 * redirects, the HTTP client for TLS.
 *
 * @module
 */

import type { ExchangeConfig } from "../config.ts";
import type { RetrieveRequest } from "../soap/request.ts";
import type { ExchangeWatchdog } from "./watchdog.ts";

const ACCEPT =
  "multipart/related, application/soap+xml, application/xop+xml, text/xml";

/**
 * Sends one SOAP request and returns the response once its headers came.
 * The watchdog is armed for the first byte; on failure it is paused and the
 * error is rethrown as it came (type it with the watchdog).
 *
 * @param request The built request.
 * @param config The exchange's config.
 * @param watchdog The exchange's watchdog.
 * @param signal Aborts the request (the caller's signal and the watchdog's).
 * @returns The response.
 */
export async function postSoap(
  request: RetrieveRequest,
  config: ExchangeConfig,
  watchdog: ExchangeWatchdog,
  signal: AbortSignal,
): Promise<Response> {
  const headers = new Headers(config.settings.headers as [string, string][]);
  // Headers from a re-login replace the configured ones.
  config.session.headers.forEach((value, name) => headers.set(name, value));
  headers.set("content-type", request.contentType);
  if (!headers.has("accept")) headers.set("accept", ACCEPT);
  watchdog.armFirstByte();
  const init: RequestInit & { client?: Deno.HttpClient } = {
    method: "POST",
    headers,
    body: request.body as Uint8Array<ArrayBuffer>,
    signal,
    // Never follow: a redirect could downgrade https to http, or carry the
    // request and its credentials to another host.
    redirect: "manual",
  };
  if (config.client) init.client = config.client;
  try {
    return await config.fetch(config.settings.url, init);
  } catch (cause) {
    watchdog.pause();
    throw cause;
  }
}
