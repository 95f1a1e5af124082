import assert from "node:assert/strict";
import { join } from "node:path";
import { Rad69Client } from "../src/client.ts";
import { type DownloadOptions, downloadPath } from "../src/download.ts";
import { FileWriteError } from "../src/errors.ts";
import { denoFileSink, FILE_SINK, type FileSink } from "../src/file_sink.ts";
import { silentLogger } from "../src/logger.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";
import { rad69, triplet } from "./_utils/cli.ts";
import { refsOf } from "./_utils/refs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const STUDY = syntheticStudy({
  series: 3,
  instancesPerSeries: 2,
  pixelBytes: 30_000,
  seed: 66,
});
const REFS = refsOf(STUDY);

/** The error Deno throws for a system error code (as for ENOSPC). */
function systemError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** A sink whose write of the file of instance `REFS[nth]` throws `error`. */
function failingSink(nth: number, error: Error): FileSink {
  const uid = REFS[nth]!.instanceUid;
  return {
    async create(path) {
      const file = await denoFileSink.create(path);
      const fails = path.includes(`/.${uid}.dcm.`);
      return {
        write: (bytes) => fails ? Promise.reject(error) : file.write(bytes),
        sync: () => file.sync(),
        close: () => file.close(),
      };
    },
  };
}

/** Every file under `dir` but .rad69. */
async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(join(dir, prefix))) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (rel === ".rad69") continue;
    if (entry.isDirectory) out.push(...await listFiles(dir, rel));
    else out.push(rel);
  }
  return out;
}

const STOPPING: [string, string][] = [
  ["ENOSPC", "No space left on device (os error 28)"],
  ["EIO", "Input/output error (os error 5)"],
];

Deno.test("a full disk or an I/O error fails the instance, requests nothing more and leaves no temporary file", async (t) => {
  for (const [code, message] of STOPPING) {
    await t.step(code, async () => {
      const dir = await Deno.makeTempDir();
      await using server = await FakeRad69Server.start({ instances: STUDY });
      using client = new Rad69Client({ url: server.url, logger: silentLogger });
      try {
        const options = {
          [FILE_SINK]: failingSink(2, systemError(code, message)),
        } as DownloadOptions;
        const report = await client.download(REFS, dir, options);
        // Writes overlap the next parts: the other instance of series 2,
        // already arrived, may still be written.
        assert.ok(report.delivered === 2 || report.delivered === 3);
        assert.equal(report.delivered + report.failed, 6);
        assert.equal(report.complete, false);
        for (const entry of report.entries) {
          if (entry.status === "delivered") continue;
          assert.ok(entry.status === "failed");
          assert.ok(entry.error instanceof FileWriteError);
          assert.equal(entry.error.code, code);
        }
        assert.equal(report.entries[4]!.status, "failed");
        assert.equal(report.entries[5]!.status, "failed");
        assert.match(
          report.entries[5]!.status === "failed"
            ? report.entries[5]!.reason
            : "",
          /the download stopped/,
        );
        const third = report.entries[2]!;
        assert.ok(third.status === "failed");
        assert.match(third.reason, new RegExp(message.replace(/[()]/g, ".")));
        // Nothing is asked after the failure is known: at most the request
        // already under way (series 3, cancelled).
        assert.ok(server.requests.length <= 3, `${server.requests.length}`);
        const files = await listFiles(dir);
        assert.ok(files.every((f) => f.endsWith(".dcm")), files.join(", "));
        assert.equal(files.length, report.delivered);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

Deno.test("a refused write (EACCES) fails only its instance", async () => {
  const dir = await Deno.makeTempDir();
  await using server = await FakeRad69Server.start({ instances: STUDY });
  using client = new Rad69Client({ url: server.url, logger: silentLogger });
  try {
    const options = {
      [FILE_SINK]: failingSink(
        1,
        new Deno.errors.PermissionDenied("Permission denied (os error 13)"),
      ),
    } as DownloadOptions;
    const report = await client.download(REFS, dir, options);
    assert.equal(report.delivered, 5);
    const failed = report.entries[1]!;
    assert.ok(failed.status === "failed");
    assert.ok(failed.error instanceof FileWriteError);
    assert.equal(failed.error.code, "EACCES");
    await assert.rejects(Deno.stat(downloadPath(dir, REFS[1]!)));
    assert.equal(server.requests.length, 3);
    const files = await listFiles(dir);
    assert.equal(files.filter((f) => f.endsWith(".part")).length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Mounts a small tmpfs, or `undefined` when this machine cannot. */
async function smallTmpfs(bytes: number): Promise<string | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "rad69-tmpfs-" });
  try {
    const out = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir],
      stdout: "null",
      stderr: "null",
    }).output();
    if (out.success) return dir;
  } catch {
    // No mount command.
  }
  await Deno.remove(dir);
  return undefined;
}

Deno.test("rad69 on a real full disk prints the full report and JSON, exits 1", async (t) => {
  const mount = await smallTmpfs(160 * 1024);
  if (mount === undefined) {
    // deno-lint-ignore no-console
    console.log("skipped: cannot mount a tmpfs here (needs root)");
    return;
  }
  await using server = await FakeRad69Server.start({ instances: STUDY });
  try {
    for (const json of [true, false]) {
      await t.step(json ? "--json" : "human", async () => {
        const out = join(mount, json ? "j" : "h");
        const result = await rad69([
          "--url",
          server.url,
          "--out",
          out,
          ...(json ? ["--json"] : []),
          ...REFS.map(triplet),
        ]);
        assert.equal(result.code, 1, result.stderr);
        if (json) {
          const summary = JSON.parse(result.stdout);
          assert.equal(summary.requested, REFS.length);
          assert.ok(summary.failed > 0);
          const failed = summary.instances.filter((i: { status: string }) =>
            i.status === "failed"
          );
          for (const i of failed) assert.equal(i.error.name, "FileWriteError");
          assert.match(failed[0].error.message, /No space left on device/);
        } else {
          assert.match(result.stderr, /Downloaded \d of 6 instance/);
          assert.match(result.stderr, /Not delivered \(\d\):/);
          assert.match(result.stderr, /No space left on device/);
        }
        const files = await listFiles(out);
        assert.ok(files.every((f) => f.endsWith(".dcm")), files.join(", "));
        await Deno.remove(out, { recursive: true });
      });
    }
  } finally {
    await new Deno.Command("umount", { args: [mount] }).output();
    await Deno.remove(mount);
  }
});
