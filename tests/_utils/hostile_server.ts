/**
 * A hostile RAD-69 server on loopback for the robustness tests: it answers
 * every request with whatever the test's handler returns (a raw body, a
 * lying header, an echo of the request's secrets…), and records what was
 * asked.
 *
 * @module
 */

/** What the handler is told about one request. */
export interface HostileRequest {
  /** The request. */
  readonly request: Request;
  /** Its body, read. */
  readonly body: string;
  /** 0 for the first request. */
  readonly index: number;
}

/** A running hostile server. */
export interface HostileServer extends AsyncDisposable {
  /** Its endpoint URL. */
  readonly url: string;
  /** The port. */
  readonly port: number;
  /** Every request's body, in order. */
  readonly bodies: string[];
}

/**
 * Starts a server that answers with `handler`'s response.
 *
 * @param handler Builds the answer to one request.
 * @returns The server; `await using` stops it.
 */
export function startHostileServer(
  handler: (request: HostileRequest) => Response | Promise<Response>,
): HostileServer {
  const bodies: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const body = await request.text();
      bodies.push(body);
      return await handler({ request, body, index: bodies.length - 1 });
    },
  );
  const port = server.addr.port;
  return {
    url: `http://127.0.0.1:${port}/rad69`,
    port,
    bodies,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** A SOAP 1.2 envelope around a RetrieveDocumentSetResponse body. */
export function soapEnvelope(inner: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>` +
    `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>` +
    `<xdsb:RetrieveDocumentSetResponse xmlns:xdsb="urn:ihe:iti:xds-b:2007">` +
    `<rs:RegistryResponse xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"/>` +
    inner +
    `</xdsb:RetrieveDocumentSetResponse></s:Body></s:Envelope>`;
}
