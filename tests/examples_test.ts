/**
 * The runnable examples in `examples/` run against the bundled fake server
 * (their no-argument mode) and print what they should.
 */

import assert from "node:assert/strict";

async function run(script: string): Promise<{ code: number; out: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      new URL(`../examples/${script}`, import.meta.url).pathname,
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
  assert.match(out, /7 delivered, 0 skipped, 1 failed/);
  assert.match(out, /not delivered: [0-9.]+\.1\.1: .*XDSMissingDocument/);
});
