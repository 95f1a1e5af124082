/**
 * Log-ins on the exchange core: `onUnauthorized` is called once per
 * refusal, its headers are sent from then on, the refused request is sent
 * once more, and nothing is lost or repeated; a failing hook is a typed
 * error naming the endpoint, not a retry loop; credentials never reach
 * logs, errors or reports. The endpoint is a real loopback server that
 * guards the fake RAD-69 server with a bearer token that can expire.
 */
import assert from "node:assert/strict";
import { AuthenticationError, Rad69Client } from "../mod.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";

const STUDY = syntheticStudy({ series: 4, instancesPerSeries: 3 });
const REFS = STUDY.map(({ studyUid, seriesUid, instanceUid }) => ({
  studyUid,
  seriesUid,
  instanceUid,
}));

/**
 * A loopback gate in front of the fake server: it answers 401 unless the
 * request carries `Bearer <token>`; `expireAfter` requests later the token
 * is refused again (the session expired) until `renew()` sets a new one.
 */
function startGate(server: FakeRad69Server, token: string) {
  let current = token;
  let served = 0;
  let expireAfter = Infinity;
  const refusals: number[] = [];
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const auth = request.headers.get("authorization");
      if (auth !== `Bearer ${current}` || served >= expireAfter) {
        refusals.push(served);
        await request.body?.cancel();
        return new Response(`denied for ${auth}`, {
          status: 401,
          headers: { "www-authenticate": "Bearer" },
        });
      }
      served++;
      return await fetch(server.url, {
        method: "POST",
        headers: request.headers,
        body: await request.arrayBuffer(),
      });
    },
  );
  return {
    url: `http://127.0.0.1:${http.addr.port}/rad69`,
    refusals,
    get served() {
      return served;
    },
    expireAfter(n: number) {
      expireAfter = n;
    },
    renew(next: string) {
      current = next;
      expireAfter = Infinity;
    },
    async [Symbol.asyncDispose]() {
      await http.shutdown();
    },
  };
}

Deno.test("onUnauthorized logs in once after a 401 and every instance arrives once", async () => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  await using gate = startGate(server, "fresh-token-0123456789");
  const lines: string[] = [];
  const calls: number[] = [];
  using client = new Rad69Client({
    url: gate.url,
    headers: { authorization: "Bearer stale-token-0123456789" },
    logger: {
      debug: (m) => lines.push(m),
      info: (m) => lines.push(m),
      warn: (m) => lines.push(m),
    },
    onUnauthorized: (event) => {
      calls.push(event.status);
      return { authorization: "Bearer fresh-token-0123456789" };
    },
  });
  const dir = await Deno.makeTempDir({ prefix: "rad69-auth-" });
  try {
    const report = await client.download(REFS, dir);
    assert.equal(report.delivered, REFS.length);
    assert.deepEqual(calls, [401]);
    assert.equal(gate.refusals.length, 1);
    // Each instance was asked for once after the log-in (4 series).
    const asked = server.requests.flatMap((r) => r.documentUniqueIds);
    assert.deepEqual(
      asked.toSorted(),
      REFS.map((r) => r.instanceUid).toSorted(),
    );
    const text = lines.join("\n") + JSON.stringify(report);
    assert.ok(!text.includes("fresh-token-0123456789"), text);
    assert.ok(!text.includes("stale-token-0123456789"), text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a session that expires in the middle of a study is renewed once, nothing lost or repeated", async () => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  await using gate = startGate(server, "first-session-abcdef");
  gate.expireAfter(2); // the third series request is refused
  let logins = 0;
  using client = new Rad69Client({
    url: gate.url,
    headers: { authorization: "Bearer first-session-abcdef" },
    logger: {},
    onUnauthorized: () => {
      logins++;
      gate.renew("second-session-ghijkl");
      return { authorization: "Bearer second-session-ghijkl" };
    },
  });
  const delivered: string[] = [];
  for await (const instance of client.datasets(REFS)) {
    delivered.push(instance.ref.instanceUid);
  }
  assert.equal(logins, 1);
  assert.deepEqual(
    delivered.toSorted(),
    REFS.map((r) => r.instanceUid).toSorted(),
  );
  assert.equal(new Set(delivered).size, delivered.length);
  assert.deepEqual(gate.refusals, [2]);
});

Deno.test("a failing onUnauthorized hook gives an AuthenticationError naming the endpoint, once", async () => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  await using gate = startGate(server, "never-given-token-xyz");
  let calls = 0;
  using client = new Rad69Client({
    url: gate.url,
    requestPerSeries: false,
    logger: {},
    onUnauthorized: () => {
      calls++;
      throw new Error("the STS is unreachable");
    },
  });
  const outcomes = await Array.fromAsync(client.retrieve(REFS));
  assert.equal(calls, 1);
  assert.equal(gate.refusals.length, 1, "no retry loop");
  assert.equal(outcomes.length, REFS.length);
  for (const outcome of outcomes) {
    assert.equal(outcome.status, "failed");
    assert.ok(outcome.status === "failed");
    assert.ok(outcome.error instanceof AuthenticationError);
    assert.match(
      outcome.error.message,
      /Re-login for http:\/\/127\.0\.0\.1:\d+\/rad69 failed: the STS is unreachable/,
    );
  }
});

Deno.test("a request still refused after the log-in fails with AuthenticationError, without a loop", async () => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  await using gate = startGate(server, "the-right-token-123");
  let calls = 0;
  using client = new Rad69Client({
    url: gate.url,
    requestPerSeries: false,
    logger: {},
    onUnauthorized: () => {
      calls++;
      return { authorization: "Bearer still-the-wrong-token" };
    },
  });
  const outcomes = await Array.fromAsync(client.retrieve(REFS));
  assert.equal(calls, 1);
  assert.equal(gate.refusals.length, 2);
  assert.ok(
    outcomes.every((o) =>
      o.status === "failed" && o.error instanceof AuthenticationError &&
      /still refused/.test(o.error.message) &&
      !o.error.message.includes("still-the-wrong-token")
    ),
  );
});
