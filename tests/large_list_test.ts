import assert from "node:assert/strict";
import { join } from "node:path";
import { csvList } from "../bench/plan_bench.ts";
import { parseInstanceList } from "../src/instance_list.ts";
import { formatSummary } from "../src/cli/summary.ts";
import { planBatches } from "../src/client.ts";
import { toInstanceRefs } from "../src/references.ts";
import { rad69 } from "./_utils/cli.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const N = 200_000;

Deno.test("a list of 200,000 references parses, flattens and plans", () => {
  const listed = parseInstanceList(csvList(N), { file: "big.csv" });
  assert.equal(listed.length, N);
  const refs = toInstanceRefs(listed);
  assert.equal(refs.length, N);
  const perSeries = planBatches(refs, { requestPerSeries: true });
  assert.equal(perSeries.length, N / 500);
  const oneRequest = planBatches(refs, { requestPerSeries: false });
  assert.equal(oneRequest.length, 1);
  assert.equal(oneRequest[0]!.length, N);
  const binned = planBatches(refs, {
    requestPerSeries: false,
    maxInstancesPerRequest: 7,
  });
  assert.equal(binned.length, Math.ceil(N / 7));
  const lines = formatSummary({
    version: "0",
    url: "http://x",
    out: "out",
    ok: false,
    exitCode: 1,
    requested: N,
    delivered: 0,
    skipped: 0,
    failed: N,
    ignored: 0,
    totalBytes: 0,
    skippedBytes: 0,
    receivedBytes: 0,
    staleFilesRemoved: 0,
    elapsedMs: 1,
    attempts: [],
    instances: refs.map((r) => ({
      study: r.studyUid,
      series: r.seriesUid,
      instance: r.instanceUid,
      status: "failed" as const,
      path: "p",
      error: { name: "Rad69NetworkError", message: "refused" },
    })),
  });
  assert.equal(lines.length, N + 2);
});

Deno.test("a 200,000-instance list gives a full report, not a stack overflow", async () => {
  // A port nobody listens on: every request fails fast, every instance is
  // reported.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const dir = await Deno.makeTempDir();
  try {
    const list = join(dir, "big.csv");
    await Deno.writeTextFile(list, csvList(N));
    const result = await rad69([
      "--url",
      `http://127.0.0.1:${port}/rad69`,
      "--out",
      join(dir, "out"),
      "--retries",
      "0",
      "--instances",
      list,
      "--json",
    ]);
    assert.equal(result.code, 1, result.stderr.slice(0, 2000));
    assert.doesNotMatch(result.stderr, /call stack/);
    const summary = JSON.parse(result.stdout);
    assert.equal(summary.requested, N);
    assert.equal(summary.failed, N);
    assert.equal(summary.instances.length, N);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
