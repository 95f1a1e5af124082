import assert from "node:assert/strict";
import { join } from "node:path";
import { Rad69Client } from "../src/client.ts";
import { downloadPath } from "../src/download.ts";
import { Rad69ServerError } from "../src/errors.ts";
import { silentLogger } from "../src/logger.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";
import { rad69, triplet } from "./_utils/cli.ts";
import { collect, refsOf } from "./_utils/refs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const STUDY = syntheticStudy({ series: 1, instancesPerSeries: 3, seed: 14 });
const REFS = refsOf(STUDY);
const FLAGGED = REFS[1]!.instanceUid;
/** A RegistryError of severity Error about an instance whose bytes are sent. */
const PLAN = {
  errors: [{
    code: "XDSRepositoryError",
    context: "Stored copy is damaged",
    location: FLAGGED,
    severity: "Error",
  }],
} as const;

Deno.test("retrieve() fails an instance sent with an Error about it", async () => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  server.enqueue(PLAN);
  using client = new Rad69Client({ url: server.url, logger: silentLogger });
  const outcomes = await collect(client.retrieve(REFS));
  assert.equal(outcomes.length, 3);
  const flagged = outcomes.find((o) => o.ref.instanceUid === FLAGGED)!;
  assert.equal(flagged.status, "failed");
  assert.ok(flagged.status === "failed");
  assert.ok(flagged.error instanceof Rad69ServerError);
  assert.equal((flagged.error as Rad69ServerError).code, "XDSRepositoryError");
  assert.match(flagged.error.message, /Stored copy is damaged/);
  const others = outcomes.filter((o) => o.ref.instanceUid !== FLAGGED);
  assert.ok(others.every((o) => o.status === "delivered"));
});

Deno.test("retrieve() delivers it with a warning when its code is ignored", async (t) => {
  for (
    const ignore of [
      "XDSRepositoryError",
      "Rad69ServerError",
      Rad69ServerError,
    ]
  ) {
    await t.step(
      `errorsToIgnore: [${String(ignore).slice(0, 24)}]`,
      async () => {
        await using server = await FakeRad69Server.start({ instances: STUDY });
        server.enqueue(PLAN);
        using client = new Rad69Client({
          url: server.url,
          logger: silentLogger,
          errorsToIgnore: [ignore],
        });
        const outcomes = await collect(client.retrieve(REFS));
        const flagged = outcomes.find((o) => o.ref.instanceUid === FLAGGED)!;
        assert.ok(flagged.status === "delivered");
        assert.deepEqual(
          flagged.instance.warnings.map((w) => [w.code, w.isWarning]),
          [["XDSRepositoryError", false]],
        );
      },
    );
  }
});

Deno.test("download() writes no file for an instance sent with an Error", async () => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  server.enqueue(PLAN);
  using client = new Rad69Client({ url: server.url, logger: silentLogger });
  const dir = await Deno.makeTempDir();
  try {
    const report = await client.download(REFS, dir);
    assert.equal(report.delivered, 2);
    assert.equal(report.failed, 1);
    assert.equal(report.complete, false);
    await assert.rejects(
      Deno.stat(downloadPath(dir, REFS[1]!)),
      Deno.errors.NotFound,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rad69 exits 1 for an instance sent with an Error, 0 with --ignore", async () => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  const dir = await Deno.makeTempDir();
  try {
    server.enqueue(PLAN);
    const failed = await rad69([
      "--url",
      server.url,
      "--out",
      join(dir, "a"),
      "--json",
      ...REFS.map(triplet),
    ]);
    assert.equal(failed.code, 1, failed.stderr);
    const summary = JSON.parse(failed.stdout);
    const entry = summary.instances.find((i: { instance: string }) =>
      i.instance === FLAGGED
    );
    assert.equal(entry.status, "failed");
    assert.equal(entry.error.code, "XDSRepositoryError");

    server.enqueue(PLAN);
    const ignored = await rad69([
      "--url",
      server.url,
      "--out",
      join(dir, "b"),
      "--ignore",
      "XDSRepositoryError",
      ...REFS.map(triplet),
    ]);
    assert.equal(ignored.code, 0, ignored.stderr);
    const written = await Deno.readFile(downloadPath(join(dir, "b"), REFS[1]!));
    assert.deepEqual(written, STUDY[1]!.bytes);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
