/**
 * Security hardening, over real loopback HTTP(S): secrets never reach an
 * error, a log line or a report (even when the server echoes them), UIDs
 * are validated before they reach XML, answers are parsed without entity
 * expansion, and TLS is verified by default.
 */

import assert from "node:assert/strict";
import {
  InvalidUidError,
  Rad69Client,
  type Rad69ClientOptions,
  Rad69HttpError,
  Rad69NetworkError,
  Rad69ProtocolError,
} from "../mod.ts";
import {
  collectSecrets,
  redactError,
  redactText,
  redactUrl,
  stripUserinfo,
} from "../src/redact.ts";
import {
  FakeRad69Server,
  type FaultPlan,
  type RecordedRequest,
  syntheticStudy,
} from "../src/testing/mod.ts";
import { assertInvariant, runRetrieve } from "./_utils/fault_invariants.ts";
import { refsOf } from "./_utils/refs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const STUDY = syntheticStudy({
  series: 1,
  instancesPerSeries: 3,
  pixelBytes: 512,
});
const REFS = refsOf(STUDY);
const SOURCES = new Map(STUDY.map((i) => [i.instanceUid, i.bytes]));

const PASSWORD = "S3cretPw!x";
const BEARER = "eyJhbGciOi.secret-bearer-token";
const SESSION = "sess-abcdef123456";
const X_PASSWORD = "hunter2-password";
const API_KEY = "key-9876543210";
const QUERY_TOKEN = "tok-123456789";
/** Every secret, in every form a server could echo it. */
const SECRETS = [
  PASSWORD,
  encodeURIComponent(PASSWORD),
  btoa(`jim:${PASSWORD}`),
  BEARER,
  SESSION,
  X_PASSWORD,
  API_KEY,
  QUERY_TOKEN,
];

/** A URL with credentials in its user info and its query. */
function secretUrl(server: FakeRad69Server): string {
  const url = new URL(server.url);
  url.username = "jim";
  url.password = PASSWORD;
  url.search = `?token=${QUERY_TOKEN}&site=main`;
  return url.href;
}

const SECRET_HEADERS = {
  authorization: `Bearer ${BEARER}`,
  cookie: `JSESSIONID=${SESSION}; theme=dark`,
  "x-password": X_PASSWORD,
  "x-api-key": API_KEY,
};

/** Everything a request carried, as a server that echoes it would send it. */
function echo(request: RecordedRequest): string {
  const lines = [`Echo of ${request.method} ${request.url}`];
  request.headers.forEach((value, name) => lines.push(`${name}: ${value}`));
  return lines.join("\n");
}

/** A logger that keeps every line, at every level. */
function capturingLogger(lines: string[]) {
  return {
    debug: (m: string) => lines.push(`debug ${m}`),
    info: (m: string) => lines.push(`info ${m}`),
    warn: (m: string) => lines.push(`warn ${m}`),
  };
}

/** All the text an error exposes: message, stack, fields, causes, inspect. */
function exposedText(error: unknown): string {
  const parts: string[] = [Deno.inspect(error, { depth: 8, colors: false })];
  let current: unknown = error;
  for (let i = 0; i < 5 && current instanceof Error; i++) {
    parts.push(current.message, current.stack ?? "");
    parts.push(JSON.stringify(current, Object.getOwnPropertyNames(current)));
    current = current.cause;
  }
  return parts.join("\n");
}

function assertNoSecret(text: string, where: string): void {
  for (const secret of SECRETS) {
    assert.ok(
      !text.includes(secret),
      `${where} leaks "${secret}":\n${text.slice(0, 2000)}`,
    );
  }
}

Deno.test({
  name:
    "Rad69Client keeps URL credentials and secret headers out of errors, logs and reports, even when the server echoes them",
  timeout: 30_000,
  async fn(t) {
    const scenarios: [string, (r: RecordedRequest) => FaultPlan][] = [
      ["HTTP 401 echoing the request", (r) => ({
        http: { status: 401, body: echo(r) },
      })],
      ["HTTP 503 echoing the request, then retried", (r) => ({
        http: {
          status: 503,
          body: echo(r),
          headers: { "content-type": "text/plain" },
        },
      })],
      ["SOAP Fault whose reason echoes the request", (r) => ({
        soapFault: { code: "Receiver", reason: echo(r), detail: echo(r) },
      })],
      ["HTML answer echoing the request", (r) => ({
        contentType: "text/html",
        garbage: echo(r),
      })],
      ["multipart garbage echoing the request", (r) => ({
        garbage: echo(r),
      })],
      ["malformed SOAP echoing the request", (r) => ({
        contentType: "application/soap+xml",
        garbage: `<oops>${echo(r)}`,
      })],
      ["RegistryError context echoing the request", (r) => ({
        omit: [REFS[0]!.instanceUid],
        errors: [{
          code: "XDSRepositoryError",
          context: echo(r),
          location: REFS[0]!.instanceUid,
        }],
      })],
      ["Set-Cookie echo with a first-byte timeout", () => ({
        latencyMs: 1_000,
        responseHeaders: { "set-cookie": `JSESSIONID=${SESSION}` },
      })],
    ];
    for (const withHeaders of [false, true]) {
      for (const [name, plan] of scenarios) {
        await t.step(
          `${name}${withHeaders ? " (secret headers)" : " (URL only)"}`,
          async () => {
            await using server = await FakeRad69Server.start({
              instances: STUDY,
              onRequest: (r) => r.index === 0 ? plan(r) : undefined,
            });
            const lines: string[] = [];
            const options: Rad69ClientOptions = {
              url: secretUrl(server),
              retries: 1,
              retryBaseDelayMs: 1,
              retryMaxDelayMs: 5,
              timeoutMs: 300,
              logger: capturingLogger(lines),
            };
            if (withHeaders) options.headers = SECRET_HEADERS;
            const client = new Rad69Client(options);
            const run = await runRetrieve(client, REFS);
            assertInvariant(run, REFS, SOURCES);
            assert.ok(server.requests.length >= 1);
            // The server did get the credentials (so an echo had them).
            const first = server.requests[0]!;
            assert.match(first.url, new RegExp(QUERY_TOKEN));
            if (withHeaders) {
              assert.equal(first.headers.get("x-api-key"), API_KEY);
            } else {
              assert.equal(
                first.headers.get("authorization"),
                `Basic ${btoa(`jim:${PASSWORD}`)}`,
              );
            }
            // wsa:To carries no user info.
            assert.equal(first.to, stripUserinfo(secretUrl(server)));
            assert.ok(!first.body.includes(PASSWORD));
            for (const [uid, error] of run.failed) {
              assertNoSecret(exposedText(error), `failure of ${uid}`);
              if (error instanceof Rad69HttpError) {
                assert.equal(
                  error.url,
                  `http://[REDACTED]@127.0.0.1:${server.port}/rad69?token=[REDACTED]&site=main`,
                );
              }
            }
            const report = JSON.stringify(
              run.outcomes.map((o) =>
                o.status === "failed"
                  ? { ...o, error: { ...o.error, message: o.error.message } }
                  : { status: o.status, ref: o.ref }
              ),
            );
            assertNoSecret(report, "the JSON report");
            assertNoSecret(lines.join("\n"), "the log");
            assert.ok(lines.some((l) => l.startsWith("debug POST http://")));
            // The download report (what `--json` prints) too.
            const dir = await Deno.makeTempDir({ prefix: "rad69-secrets-" });
            try {
              server.enqueue(plan(server.requests[0]!));
              const downloaded = await new Rad69Client({
                ...options,
                retries: 0,
              }).download(
                REFS,
                dir,
              );
              assertNoSecret(
                JSON.stringify(downloaded) +
                  downloaded.entries.map((e) =>
                    e.status === "failed" ? exposedText(e.error) : ""
                  ).join("\n"),
                "the download report",
              );
            } finally {
              await Deno.remove(dir, { recursive: true });
            }
            assert.ok(
              lines.some((l) => l.includes("[REDACTED]")),
              "the URL is logged redacted",
            );
          },
        );
      }
    }
  },
});

Deno.test({
  name:
    "Rad69Client keeps URL credentials out of a connection error, and shows its reason",
  timeout: 30_000,
  async fn() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    const lines: string[] = [];
    const client = new Rad69Client({
      url:
        `http://jim:${PASSWORD}@127.0.0.1:${port}/rad69?token=${QUERY_TOKEN}`,
      headers: SECRET_HEADERS,
      retries: 1,
      retryBaseDelayMs: 1,
      logger: capturingLogger(lines),
    });
    const run = await runRetrieve(client, REFS);
    assertInvariant(run, REFS, SOURCES, {
      delivered: 0,
      errors: [Rad69NetworkError],
    });
    for (const error of run.failed.values()) {
      assertNoSecret(exposedText(error), "a connection error");
      assert.match(error.message, /refused/i, "the reason is shown");
    }
    assertNoSecret(lines.join("\n"), "the log");
  },
});

Deno.test("redactUrl(), redactText(), collectSecrets() and redactError() remove every form of a secret", () => {
  assert.equal(
    redactUrl("https://jim:pw%40x@pacs.example:8443/a/b?api_key=1&x=2#f"),
    "https://[REDACTED]@pacs.example:8443/a/b?api_key=[REDACTED]&x=2#f",
  );
  assert.equal(redactUrl("https://pacs/rad69"), "https://pacs/rad69");
  assert.equal(
    redactUrl("not a url, but http://u:p@h/x is inside"),
    "not a url, but http://[REDACTED]@h/x is inside",
  );
  assert.equal(
    stripUserinfo("https://jim:pw@pacs/rad69?q=1"),
    "https://pacs/rad69?q=1",
  );
  const secrets = collectSecrets(
    "https://jim:p%40ssw0rd@pacs/x?access_token=abcdef",
    {
      Authorization: "Basic " + btoa("ann:annpass1"),
      Cookie: "a=cookie-one; b=cookie-two",
      "X-Custom": "not secret",
    },
  );
  for (
    const s of [
      "p@ssw0rd",
      "p%40ssw0rd",
      "annpass1",
      "ann:annpass1",
      "cookie-one",
      "cookie-two",
      "abcdef",
      btoa("jim:p@ssw0rd"),
    ]
  ) {
    assert.ok(secrets.includes(s), `missing ${s}`);
  }
  assert.ok(!secrets.includes("not secret"));
  assert.equal(
    redactText("user=ann pass=annpass1 cookie=cookie-two", secrets),
    "user=ann pass=[REDACTED] cookie=[REDACTED]",
  );
  const error = new Rad69HttpError("HTTP 401 for annpass1", {
    status: 401,
    url: "https://jim:p%40ssw0rd@pacs/x",
    bodyExcerpt: "Authorization: Basic " + btoa("ann:annpass1"),
    cause: new Error("cookie-one rejected"),
  });
  redactError(error, secrets);
  assertNoSecret(exposedText(error), "a redacted error");
  for (const s of secrets) {
    assert.ok(!exposedText(error).includes(s), `still holds ${s}`);
  }
  assert.equal(error.url, "https://[REDACTED]@pacs/x");
});

Deno.test({
  name:
    "Rad69Client validates UIDs before they reach XML and escapes free text",
  timeout: 30_000,
  async fn() {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const client = new Rad69Client({ url: server.url, logger: {} });
    const ref = REFS[0]!;
    const hostile = [
      '1.2.3"/><iherad:StudyRequest studyInstanceUID="6.6.6',
      "1.2.3</xdsb:DocumentUniqueId><x>",
      "1.2.3&amp;",
      "1.2.3\u0000",
      "１.２.３",
      "1.2." + "3".repeat(70),
      " 1.2.3",
    ];
    for (const uid of hostile) {
      for (const field of ["studyUid", "seriesUid", "instanceUid"] as const) {
        assert.throws(
          () => client.retrieve([{ ...ref, [field]: uid }]),
          InvalidUidError,
          `${field} = ${JSON.stringify(uid)}`,
        );
      }
      assert.throws(
        () => client.retrieve([{ ...ref, repositoryUniqueId: uid }]),
        InvalidUidError,
      );
    }
    for (
      const bad of [
        { repositoryUniqueId: '1.2"><x y="' },
        { transferSyntaxes: ["1.2.840.10008.1.2.1</TransferSyntaxUID><x>"] },
      ]
    ) {
      const c = new Rad69Client({ url: server.url, logger: {}, ...bad });
      await assert.rejects(runRetrieve(c, REFS), InvalidUidError);
    }
    assert.equal(server.requests.length, 0, "nothing reached the server");
    // Free text (HomeCommunityId) is escaped, not validated as a UID.
    const community = "urn:oid:1.2.3\"/><evil attr='x'>&amp;</evil>";
    const c = new Rad69Client({
      url: server.url,
      homeCommunityId: community,
      logger: {},
    });
    const run = await runRetrieve(c, REFS);
    assertInvariant(run, REFS, SOURCES, { delivered: REFS.length });
    const request = server.requests[0]!;
    assert.equal(request.valid, true, request.validationError);
    assert.deepEqual(request.homeCommunityIds, [community]);
    assert.equal(request.documents.length, REFS.length);
  },
});

Deno.test({
  name:
    "Rad69Client never expands entities of an answer (external entities, billion laughs), plain or MTOM",
  timeout: 30_000,
  async fn(t) {
    const xxe =
      `<?xml version="1.0"?><!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` +
      `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&xxe;</s:Body></s:Envelope>`;
    const laughs = `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "lol">` +
      Array.from(
        { length: 12 },
        (_, i) =>
          `<!ENTITY ${String.fromCharCode(98 + i)} "${
            `&${String.fromCharCode(97 + i)};`.repeat(10)
          }">`,
      ).join("") +
      `]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&m;</s:Body></s:Envelope>`;
    const internal =
      `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x>&undefined;</x></s:Body></s:Envelope>`;
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const boundary = "b0";
    const mtom = (xml: string) =>
      `--${boundary}\r\nContent-ID: <root>\r\nContent-Type: application/xop+xml\r\n\r\n${xml}\r\n--${boundary}--\r\n`;
    for (
      const [name, xml] of [["XXE", xxe], ["billion laughs", laughs], [
        "undefined entity",
        internal,
      ]]
    ) {
      for (const framing of ["plain", "mtom"] as const) {
        await t.step(`${name} (${framing})`, async () => {
          server.clearRequests();
          server.enqueue(
            framing === "plain"
              ? { contentType: "application/soap+xml", garbage: xml }
              : {
                contentType:
                  `multipart/related; boundary=${boundary}; start="<root>"; type="application/xop+xml"`,
                garbage: mtom(xml),
              },
          );
          const client = new Rad69Client({
            url: server.url,
            retries: 3,
            logger: {},
          });
          const run = await runRetrieve(client, REFS, { deadlineMs: 5_000 });
          assertInvariant(run, REFS, SOURCES, {
            delivered: 0,
            errors: [Rad69ProtocolError],
          });
          assert.equal(server.requests.length, 1, "permanent");
          for (const error of run.failed.values()) {
            assert.match(error.message, /DOCTYPE|entit/i);
            assert.ok(!exposedText(error).includes("root:x:0"));
            assert.ok(!exposedText(error).includes("lollollol"));
          }
        });
      }
    }
  },
});

// A throw-away CA and a localhost / 127.0.0.1 certificate it signed (EC
// P-256, valid 2000-2099), made for these tests only.
const TEST_CA = `-----BEGIN CERTIFICATE-----
MIIBZDCCAQmgAwIBAgIBATAKBggqhkjOPQQDAjAYMRYwFAYDVQQDDA1yYWQ2OSB0
ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIwOTkxMjMxMDAwMDAwWjAYMRYwFAYD
VQQDDA1yYWQ2OSB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEUXfB
po95Celuw098H7KG03Ze9GqdNwSgcAcSO32a/OyjIom8vX2/gg2qq8v5YCCLw4oX
CttIMFTeVOUJu/MC8KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMC
AQYwHQYDVR0OBBYEFLfr6HH62yhc6nVRKr9FfY5qVRLnMAoGCCqGSM49BAMCA0kA
MEYCIQDsnWAFH+3FbC7o026MHy/4VPGEU1JGNymWAu1+afHK7AIhALYMZvmDgCl3
lTNSLxtPOu4vkPFJLdGoY7u1ugUKSiE5
-----END CERTIFICATE-----
`;
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBrTCCAVOgAwIBAgIBAjAKBggqhkjOPQQDAjAYMRYwFAYDVQQDDA1yYWQ2OSB0
ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIwOTkxMjMxMDAwMDAwWjAUMRIwEAYD
VQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATl4LNmA6K+
/UuqsguKjBk7Ppi8jbAzcDkehFGgGeoxF2a3VTczTzg9kR1UnIn3+2dIb5PjtW1g
0NDyvZz1sJt9o4GPMIGMMAkGA1UdEwQCMAAwDgYDVR0PAQH/BAQDAgeAMBMGA1Ud
JQQMMAoGCCsGAQUFBwMBMBoGA1UdEQQTMBGCCWxvY2FsaG9zdIcEfwAAATAfBgNV
HSMEGDAWgBS36+hx+tsoXOp1USq/RX2OalUS5zAdBgNVHQ4EFgQUgKxn6X0GwMJh
WFFPw4S1fkjFVfYwCgYIKoZIzj0EAwIDSAAwRQIhAMhdE5kEP8USwBMelosaek8U
bAu+1olVBIxwm5XODemhAiAWiplagF6Q7h6RaxFDUQS42HKyhkTDH2sEaBtPUdA4
zw==
-----END CERTIFICATE-----
`;
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgw0WiKjMI2MfJ0bXP
girv+crRdU0O0+X+k0QX6eqlpmqhRANCAATl4LNmA6K+/UuqsguKjBk7Ppi8jbAz
cDkehFGgGeoxF2a3VTczTzg9kR1UnIn3+2dIb5PjtW1g0NDyvZz1sJt9
-----END PRIVATE KEY-----
`;

Deno.test({
  name:
    "Rad69Client verifies TLS by default, trusts a CA given in tls.caCerts, and never downgrades to HTTP",
  timeout: 30_000,
  async fn(t) {
    await using fake = await FakeRad69Server.start({ instances: STUDY });
    // An HTTPS front for the fake server.
    const tls = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: TEST_CERT,
      key: TEST_KEY,
      onListen() {},
    }, async (request) => {
      const body = await request.arrayBuffer();
      return await fetch(fake.url, {
        method: request.method,
        headers: request.headers,
        body,
      });
    });
    try {
      const url = `https://127.0.0.1:${tls.addr.port}/rad69`;
      await t.step("an unknown CA is refused", async () => {
        fake.clearRequests();
        const client = new Rad69Client({ url, retries: 1, logger: {} });
        const run = await runRetrieve(client, REFS);
        assertInvariant(run, REFS, SOURCES, {
          delivered: 0,
          errors: [Rad69NetworkError],
        });
        for (const e of run.failed.values()) {
          assert.match(e.message, /certificate|UnknownIssuer/i);
        }
        assert.equal(fake.requests.length, 0, "nothing went through");
      });
      await t.step("the CA given in tls.caCerts is trusted", async () => {
        fake.clearRequests();
        using client = new Rad69Client({
          url,
          tls: { caCerts: [TEST_CA] },
          logger: {},
        });
        const run = await runRetrieve(client, REFS);
        assertInvariant(run, REFS, SOURCES, { delivered: REFS.length });
        assert.equal(fake.requests.length, 1);
      });
      await t.step("the CA given as a Deno.HttpClient is trusted", async () => {
        using http = Deno.createHttpClient({ caCerts: [TEST_CA] });
        const client = new Rad69Client({
          url: `https://localhost:${tls.addr.port}/rad69`,
          client: http,
          logger: {},
        });
        const run = await runRetrieve(client, REFS);
        assertInvariant(run, REFS, SOURCES, { delivered: REFS.length });
      });
      await t.step(
        "https to a plain HTTP server fails, never falls back",
        async () => {
          fake.clearRequests();
          const client = new Rad69Client({
            url: fake.url.replace("http:", "https:"),
            retries: 0,
            logger: {},
          });
          const run = await runRetrieve(client, REFS);
          assertInvariant(run, REFS, SOURCES, {
            delivered: 0,
            errors: [Rad69NetworkError],
          });
          assert.equal(fake.requests.length, 0);
        },
      );
    } finally {
      await tls.shutdown();
    }
  },
});

Deno.test({
  name:
    "Rad69Client never follows a redirect (no downgrade, no credentials sent elsewhere)",
  timeout: 30_000,
  async fn() {
    await using target = await FakeRad69Server.start({ instances: STUDY });
    for (const status of [301, 302, 307, 308]) {
      let hits = 0;
      const redirector = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        onListen() {},
      }, async (request) => {
        hits++;
        await request.body?.cancel();
        return new Response(null, {
          status,
          headers: { location: secretUrl(target) },
        });
      });
      try {
        const client = new Rad69Client({
          url: `http://127.0.0.1:${redirector.addr.port}/rad69`,
          headers: SECRET_HEADERS,
          retries: 2,
          retryBaseDelayMs: 1,
          logger: {},
        });
        const run = await runRetrieve(client, REFS);
        assertInvariant(run, REFS, SOURCES, {
          delivered: 0,
          errors: [Rad69HttpError],
        });
        for (const error of run.failed.values()) {
          assert.equal((error as Rad69HttpError).status, status);
          assert.match(
            error.message,
            /redirected .* redirects are not followed/,
          );
          assertNoSecret(exposedText(error), "a redirect error");
        }
        assert.equal(target.requests.length, 0, "the target got nothing");
        assert.equal(hits, 1, "a redirect is permanent: not retried");
      } finally {
        await redirector.shutdown();
      }
    }
  },
});
