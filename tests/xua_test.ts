/**
 * XUA on the exchange core: the `securityHeader` callback is asked for a
 * `wsse:Security` header per request and its text reaches the server byte
 * for byte; an assertion that expires in the middle of a study is refreshed
 * through `onUnauthorized` without losing or repeating an instance; the
 * assertion never reaches logs, errors or reports. The server is the fake,
 * requiring an assertion, on loopback.
 */
import assert from "node:assert/strict";
import { AuthenticationError, Rad69Client } from "../mod.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";

const WSSE =
  "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const STUDY = syntheticStudy({ series: 4, instancesPerSeries: 3 });
const REFS = STUDY.map(({ studyUid, seriesUid, instanceUid }) => ({
  studyUid,
  seriesUid,
  instanceUid,
}));

/** A signed-looking assertion whose text a re-serialiser would change. */
function assertion(id: string): string {
  return `<wsse:Security xmlns:wsse="${WSSE}"   >` +
    `<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"  ID="${id}" Version="2.0">` +
    `<saml2:Subject>dr-secret-subject-7f3a</saml2:Subject>` +
    `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">c2lnbmF0dXJl</ds:Signature>` +
    `</saml2:Assertion></wsse:Security>`;
}

/** An STS stand-in: issues numbered assertions. */
function sts() {
  let generation = 1;
  return {
    get current() {
      return `_assertion-${generation}-e1b2c3d4`;
    },
    renew() {
      generation++;
    },
  };
}

Deno.test("the security header reaches the server byte for byte on every request", async () => {
  const issuer = sts();
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    requireAssertion: (id) => id === issuer.current,
  });
  let asked = 0;
  using client = new Rad69Client({
    url: server.url,
    securityHeader: () => {
      asked++;
      return assertion(issuer.current);
    },
  });
  const got = await Array.fromAsync(client.datasets(REFS));
  assert.equal(got.length, STUDY.length);
  assert.equal(server.requests.length, 4);
  assert.equal(asked, 4, "asked once per request");
  for (const request of server.requests) {
    assert.ok(request.soapXml.includes(assertion(issuer.current)));
  }
});

Deno.test("an assertion that expires mid-study is refreshed once; nothing lost or repeated", async () => {
  const issuer = sts();
  let accepted = 0;
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    // The first assertion is good for two requests, then expires.
    requireAssertion: (id) => {
      if (id !== issuer.current) return false;
      if (id.includes("-1-") && accepted >= 2) return false;
      accepted++;
      return true;
    },
  });
  const lines: string[] = [];
  const hook: string[] = [];
  using client = new Rad69Client({
    url: server.url,
    securityHeader: () => assertion(issuer.current),
    onUnauthorized: (event) => {
      hook.push(event.url);
      issuer.renew();
    },
    logger: {
      debug: (m) => lines.push(m),
      info: (m) => lines.push(m),
      warn: (m) => lines.push(m),
    },
  });
  const dir = await Deno.makeTempDir();
  try {
    const report = await client.download(REFS, dir);
    assert.equal(report.delivered, STUDY.length);
    assert.equal(report.failed, 0);
    assert.equal(hook.length, 1, "one refresh");
    assert.equal(server.requests.length, 5, "4 series + the refused one");
    const asked = server.requests.flatMap((r) => r.documentUniqueIds);
    assert.equal(new Set(asked).size, STUDY.length, "every instance asked for");
    assert.equal(
      asked.length,
      STUDY.length + 3,
      "only the refused series twice",
    );
    assert.equal(
      new Set(report.entries.map((e) => e.ref.instanceUid)).size,
      report.entries.length,
      "each instance reported once",
    );
    const text = JSON.stringify(report) + lines.join("\n");
    assert.ok(!text.includes("dr-secret-subject-7f3a"), "no assertion text");
    assert.ok(!text.includes("c2lnbmF0dXJl"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an assertion still refused after the refresh is an AuthenticationError, not a loop", async () => {
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    requireAssertion: () => false,
  });
  let refreshed = 0;
  using client = new Rad69Client({
    url: server.url,
    retries: 3,
    retryBaseDelayMs: 1,
    securityHeader: () => assertion("_never-good-99aa"),
    onUnauthorized: () => {
      refreshed++;
    },
  });
  const outcomes = await Array.fromAsync(client.retrieve(REFS.slice(0, 3)));
  assert.equal(refreshed, 1);
  assert.equal(server.requests.length, 2, "the request and its one resend");
  for (const outcome of outcomes) {
    assert.ok(outcome.status === "failed");
    assert.ok(outcome.error instanceof AuthenticationError);
    assert.ok(outcome.error.message.includes(server.url));
    assert.ok(!outcome.error.message.includes("_never-good-99aa"));
  }
});

Deno.test("a security header callback that throws fails the request with a typed error", async () => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  using client = new Rad69Client({
    url: server.url,
    retries: 0,
    securityHeader: () => {
      throw new Error("STS unreachable");
    },
  });
  const [outcome] = await Array.fromAsync(client.retrieve(REFS.slice(0, 1)));
  assert.ok(outcome!.status === "failed");
  assert.ok(outcome.error instanceof AuthenticationError);
  assert.match(outcome.error.message, /STS unreachable/);
  assert.equal(server.requests.length, 0, "nothing sent without the header");
});
