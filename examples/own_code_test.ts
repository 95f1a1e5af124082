/**
 * How to test your own code against the bundled fake RAD-69 server: here, a
 * function that counts the instances of a series, checked against a healthy
 * server, a server that misses one instance, and one that cuts its answer.
 *
 * ```sh
 * deno test --allow-net=127.0.0.1 examples/own_code_test.ts
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import { Rad69Client, XDSMissingDocumentError } from "@rad69/client";
import type { InstanceReference } from "@rad69/client";
import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";

/** The code under test: counts what arrives, skipping missing instances. */
export async function countInstances(
  url: string,
  refs: InstanceReference[],
): Promise<number> {
  const client = new Rad69Client({
    url,
    errorsToIgnore: [XDSMissingDocumentError],
    retryBaseDelayMs: 1,
    logger: {},
  });
  let count = 0;
  for await (const _ of client.datasets(refs)) count++;
  return count;
}

const study = syntheticStudy({ series: 1, instancesPerSeries: 4 });
const refs = study.map(({ studyUid, seriesUid, instanceUid }) => ({
  studyUid,
  seriesUid,
  instanceUid,
}));

Deno.test("countInstances() counts every instance of a healthy server", async () => {
  await using server = await FakeRad69Server.start({ instances: study });
  assert.equal(await countInstances(server.url, refs), 4);
});

Deno.test("countInstances() skips an instance the server does not have", async () => {
  await using server = await FakeRad69Server.start({
    instances: study.slice(1),
  });
  assert.equal(await countInstances(server.url, refs), 3);
});

Deno.test("countInstances() survives an answer cut mid-body (retried)", async () => {
  await using server = await FakeRad69Server.start({ instances: study });
  server.enqueue({ truncate: { at: 3000, mode: "abort" } });
  assert.equal(await countInstances(server.url, refs), 4);
  assert.equal(server.requests.length, 2);
});
