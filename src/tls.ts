/**
 * TLS material (mutual TLS, private CAs) and the `Deno.HttpClient` built
 * from it. Its own module, so that workers build their HTTP client without
 * loading the client.
 *
 * @module
 */

/**
 * TLS material for mutual TLS and private CAs, as PEM text.
 *
 * @example Give TLS material to a client
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client, type Rad69TlsOptions } from "@rad69/client";
 *
 * // In real use: PEM text read from files, e.g. the hospital's CA.
 * const tls: Rad69TlsOptions = { caCerts: [] };
 * using client = new Rad69Client({ url: "https://pacs.example/rad69", tls });
 * assert.equal(client.url, "https://pacs.example/rad69");
 * const keyless: Rad69TlsOptions = { cert: "-----BEGIN CERTIFICATE-----" };
 * assert.throws(
 *   () => new Rad69Client({ url: "https://pacs.example/rad69", tls: keyless }),
 *   TypeError, // a certificate without its key
 * );
 * ```
 */
export interface Rad69TlsOptions {
  /** The client certificate chain (PEM), for mutual TLS. */
  readonly cert?: string;
  /** The client private key (PEM), for mutual TLS. */
  readonly key?: string;
  /** Extra CA certificates (PEM) to trust, besides the system's. */
  readonly caCerts?: readonly string[];
}

/**
 * Creates a `Deno.HttpClient` from PEM TLS material. {@linkcode Rad69Client}
 * does this itself for its `tls` option (and in every worker); call it to
 * build a client to pass as `client`, or to check PEM material early.
 *
 * @param tls The certificate, key and CA certificates.
 * @returns A client; the caller closes it.
 * @throws {TypeError} When only one of `cert` and `key` is given, or the PEM
 * text cannot be read.
 *
 * @example Check TLS options before a long run
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTlsHttpClient } from "@rad69/client";
 *
 * // Material would come from files: cert, key and caCerts as PEM text.
 * const client = createTlsHttpClient({ caCerts: [] });
 * client.close();
 * assert.throws(
 *   () => createTlsHttpClient({ cert: "-----BEGIN CERTIFICATE-----" }),
 *   TypeError, // a certificate without its key
 * );
 * ```
 */
export function createTlsHttpClient(tls: Rad69TlsOptions): Deno.HttpClient {
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TypeError(
      "Invalid tls option: cert and key must be given together",
    );
  }
  const options: Deno.CreateHttpClientOptions = {};
  if (tls.caCerts && tls.caCerts.length > 0) options.caCerts = [...tls.caCerts];
  if (tls.cert !== undefined && tls.key !== undefined) {
    return Deno.createHttpClient({
      ...options,
      cert: tls.cert,
      key: tls.key,
    });
  }
  return Deno.createHttpClient(options);
}
