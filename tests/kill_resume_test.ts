/**
 * The kill test: a CLI download killed with SIGKILL halfway, then run again
 * with `--resume`, ends with every file present and byte-identical, nothing
 * fetched twice, and no temporary file left behind.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { CliSummary } from "../src/cli/summary.ts";
import { downloadPath } from "../src/download.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";
import { sameBytes } from "./_utils/refs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;
const STUDY = syntheticStudy({
  series: 4,
  instancesPerSeries: 6,
  pixelBytes: 64 * 1024,
  pixelContent: "random",
  seed: 11,
});
const TOTAL = STUDY.reduce((n, i) => n + i.bytes.length, 0);
/** About 2.5 s for the whole study at this rate. */
const BYTES_PER_SECOND = Math.round(TOTAL / 2.5);

/** Every file under `dir`, relative. */
async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const entry of Deno.readDir(join(dir, prefix))) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (rel === ".rad69") continue; // the lock and the journal
      if (entry.isDirectory) out.push(...await listFiles(dir, rel));
      else out.push(rel);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out.sort();
}

function cli(args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      CLI,
      ...args,
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test(
  "rad69 killed with SIGKILL halfway, then run with --resume, ends with every file byte-identical and no temporary file",
  {
    timeout: 60_000,
  },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "rad69-kill-test-" });
    try {
      await using server = await FakeRad69Server.start({
        instances: STUDY,
        plan: { bytesPerSecond: BYTES_PER_SECOND, chunkSize: 8192 },
      });
      const list = join(dir, "list.csv");
      await Deno.writeTextFile(
        list,
        STUDY.map((i) => `${i.studyUid},${i.seriesUid},${i.instanceUid}`)
          .join("\n"),
      );
      const out = join(dir, "out");
      const args = ["--url", server.url, "--out", out, "--instances", list];

      // 1. Start the download and kill it once some files are there.
      const child = cli(args).spawn();
      const output = child.output();
      const deadline = Date.now() + 30_000;
      let present: string[] = [];
      while (Date.now() < deadline) {
        present = (await listFiles(out)).filter((f) => f.endsWith(".dcm"));
        if (present.length >= 6) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      child.kill("SIGKILL");
      const killed = await output;
      assert.equal(
        killed.signal,
        "SIGKILL",
        "the run was killed, not finished",
      );
      assert.ok(present.length >= 6, `only ${present.length} files after 30 s`);

      const afterKill = await listFiles(out);
      const finals = afterKill.filter((f) => f.endsWith(".dcm"));
      assert.ok(
        finals.length < STUDY.length,
        `the kill came too late: ${finals.length} files`,
      );
      // Whatever the kill interrupted, a final name holds a complete file.
      const byPath = new Map(STUDY.map((i) => [downloadPath(out, i), i]));
      for (const file of finals) {
        const instance = byPath.get(join(out, file));
        assert.ok(instance, `unexpected file ${file}`);
        assert.ok(
          sameBytes(await Deno.readFile(join(out, file)), instance.bytes),
          `${file} is not complete after the kill`,
        );
      }
      // A temporary file as a kill in the middle of a write leaves it.
      const pending = STUDY.find((i) =>
        !finals.includes(downloadPath(out, i).slice(out.length + 1))
      )!;
      const stale = join(
        out,
        pending.studyUid,
        pending.seriesUid,
        `.${pending.instanceUid}.dcm.0123456789ab.part`,
      );
      await Deno.mkdir(join(stale, ".."), { recursive: true });
      await Deno.writeFile(stale, pending.bytes.subarray(0, 1000));

      // 2. Resume at full speed.
      server.plan = {};
      server.clearRequests();
      const resumed = await cli([...args, "--resume", "--json"]).output();
      const stderr = new TextDecoder().decode(resumed.stderr);
      assert.equal(resumed.code, 0, stderr);
      const summary = JSON.parse(
        new TextDecoder().decode(resumed.stdout),
      ) as CliSummary;
      assert.equal(summary.skipped, finals.length);
      assert.equal(summary.delivered, STUDY.length - finals.length);
      assert.equal(summary.failed, 0);
      assert.ok(summary.staleFilesRemoved >= 1);
      const again = server.requests.flatMap((r) => r.documentUniqueIds);
      const skippedUids = new Set(
        finals.map((f) => f.split("/").at(-1)!.replace(/\.dcm$/, "")),
      );
      assert.ok(
        again.every((uid) => !skippedUids.has(uid)),
        "no complete file was fetched again",
      );

      // 3. Every file present and byte-identical; nothing else left.
      for (const instance of STUDY) {
        const bytes = await Deno.readFile(downloadPath(out, instance));
        assert.ok(sameBytes(bytes, instance.bytes), instance.instanceUid);
      }
      const files = await listFiles(out);
      assert.deepEqual(
        files.filter((f) => !f.endsWith(".dcm")),
        [],
        "no temporary file left behind",
      );
      assert.equal(files.length, STUDY.length);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "rad69 interrupted with SIGINT exits 130 and leaves no temporary file",
  {
    timeout: 60_000,
  },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "rad69-sigint-test-" });
    try {
      await using server = await FakeRad69Server.start({
        instances: STUDY,
        plan: { bytesPerSecond: BYTES_PER_SECOND, chunkSize: 8192 },
      });
      const out = join(dir, "out");
      const child = cli([
        "--url",
        server.url,
        "--out",
        out,
        ...STUDY.map((i) => `${i.studyUid}/${i.seriesUid}/${i.instanceUid}`),
      ]).spawn();
      const output = child.output();
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const files = await listFiles(out);
        if (files.filter((f) => f.endsWith(".dcm")).length >= 3) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      child.kill("SIGINT");
      const result = await output;
      const stderr = new TextDecoder().decode(result.stderr);
      assert.equal(result.code, 130, stderr);
      assert.match(stderr, /interrupted/);
      assert.match(stderr, /--resume/);
      const files = await listFiles(out);
      assert.ok(files.length < STUDY.length, "stopped before the end");
      assert.deepEqual(files.filter((f) => !f.endsWith(".dcm")), []);
      const byPath = new Map(STUDY.map((i) => [downloadPath(out, i), i]));
      for (const file of files) {
        const instance = byPath.get(join(out, file))!;
        assert.ok(
          sameBytes(await Deno.readFile(join(out, file)), instance.bytes),
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
