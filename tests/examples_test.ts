/**
 * The runnable examples in `examples/` run against the bundled fake server
 * (their no-argument mode) and print what they should.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";

async function run(
  script: string,
  args: string[] = [],
): Promise<{ code: number; out: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      new URL(`../examples/${script}`, import.meta.url).pathname,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    out: new TextDecoder().decode(output.stdout) +
      new TextDecoder().decode(output.stderr),
  };
}

Deno.test("examples/stream_datasets.ts prints a few tags of every instance", async () => {
  const { code, out } = await run("stream_datasets.ts");
  assert.equal(code, 0, out);
  const lines = out.trim().split("\n");
  assert.equal(lines.length, 6, out);
  for (const line of lines) {
    assert.match(
      line,
      /^[0-9.]+ {2}FAKE\^PATIENT {2}CT {2}64x64 {2}\d+ bytes$/,
    );
  }
});

Deno.test("examples/download_study_list.ts downloads a list and reports the missing instance", async () => {
  const { code, out } = await run("download_study_list.ts");
  assert.equal(code, 1, out);
  assert.match(out, /^8\/8 instances, \d+ bytes$/m);
  // One progress line per instance, not one per byte event.
  assert.equal(out.match(/^\d+\/8 instances/gm)?.length, 8, out);
  assert.match(out, /7 delivered, 0 skipped, 1 failed/);
  assert.match(out, /not delivered: [0-9.]+\.1\.1: .*XDSMissingDocument/);
});

Deno.test("examples/download_study_list.ts reads a CSV with a header line, as the CLI writes it", async () => {
  const study = syntheticStudy({ series: 1, instancesPerSeries: 3, seed: 9 });
  await using server = await FakeRad69Server.start({ instances: study });
  const dir = await Deno.makeTempDir({ prefix: "rad69-example-test-" });
  try {
    const list = join(dir, "list.csv");
    await Deno.writeTextFile(
      list,
      [
        "study,series,instance",
        ...study.map((i) => `${i.studyUid},${i.seriesUid},${i.instanceUid}`),
        "",
      ].join("\n"),
    );
    const ok = await run("download_study_list.ts", [
      server.url,
      list,
      join(dir, "out"),
    ]);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /3 delivered, 0 skipped, 0 failed/);
    await Deno.writeTextFile(list, "study,series,instance\n1.2,1.02,1.2.3\n");
    const bad = await run("download_study_list.ts", [
      server.url,
      list,
      join(dir, "out"),
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.out, /list\.csv" line 2 \(series\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("examples/download_patient.ts runs the XDS-I.b flow and names what was lost", async () => {
  const { code, out } = await run("download_patient.ts");
  assert.equal(code, 1, out);
  assert.match(
    out,
    /^manifest 1\.2\.840\.99\.1\.31: fetched, 6 instance\(s\)$/m,
  );
  assert.match(
    out,
    /^manifest 1\.2\.840\.99\.1\.32: fetched, 2 instance\(s\)$/m,
  );
  assert.match(
    out,
    /^source 1\.2\.840\.99\.1\.20: 7 delivered, 0 present, 1 failed$/m,
  );
  assert.match(out, /^not delivered: [0-9.]+: .*not found/m);
});
