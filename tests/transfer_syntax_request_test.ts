/**
 * What the client asks for, transfer-syntax-wise: the configured list, or
 * "as stored" (`["*"]`); and what a server that cannot comply answers.
 */
import assert from "node:assert/strict";
import { Rad69Client, Rad69ServerError } from "../mod.ts";
import { buildDicomInstance, FakeRad69Server } from "../src/testing/mod.ts";

const JPEG2000 = "1.2.840.10008.1.2.4.91";
const uids = {
  studyUid: "1.2.3",
  seriesUid: "1.2.3.4",
  instanceUid: "1.2.3.4.5",
};

Deno.test("an instance stored in a syntax not asked for fails with the server's code and a hint", async () => {
  const bytes = buildDicomInstance({ ...uids, transferSyntaxUid: JPEG2000 });
  await using server = await FakeRad69Server.start({
    instances: [{ ...uids, bytes }],
  });
  using client = new Rad69Client({
    url: server.url,
    retries: 0,
    transferSyntaxes: ["1.2.840.10008.1.2.4.70"],
  });
  const [outcome] = await Array.fromAsync(client.retrieve([uids]));
  assert.ok(outcome!.status === "failed");
  assert.ok(outcome.error instanceof Rad69ServerError);
  assert.equal(outcome.error.code, "urn:dicom:wado:0007");
  assert.match(outcome.error.message, /--transfer-syntax '\*'/);
});

Deno.test("transferSyntaxes ['*'] asks for every stored syntax and gets the instance as stored", async () => {
  const bytes = buildDicomInstance({ ...uids, transferSyntaxUid: JPEG2000 });
  await using server = await FakeRad69Server.start({
    instances: [{ ...uids, bytes }],
  });
  using client = new Rad69Client({ url: server.url, transferSyntaxes: ["*"] });
  const instance = await client.getDataset(uids);
  assert.deepEqual(instance.bytes, bytes);
  const asked = server.requests[0]!.transferSyntaxes;
  assert.ok(asked.includes(JPEG2000));
  assert.ok(asked.includes("1.2.840.10008.1.2.1.99"), "deflated");
  assert.ok(!asked.includes("1.2.840.10008.1.2.4.94"), "no JPIP");
  assert.ok(!asked.includes("*"));
});
