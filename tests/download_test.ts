import assert from "node:assert/strict";
import { join } from "node:path";
import { downloadPath, type DownloadProgress } from "../src/download.ts";
import { Rad69Client } from "../src/client.ts";
import {
  FileWriteError,
  InvalidUidError,
  NonInstanceParameterError,
  TruncatedResponseError,
  XDSMissingDocumentError,
} from "../src/errors.ts";
import type { InstanceReference } from "../src/references.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";
import { refsOf, sameBytes } from "./_utils/refs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const STUDY = syntheticStudy({ series: 2, instancesPerSeries: 3 });
const REFS = refsOf(STUDY);
const BYTES = new Map(STUDY.map((i) => [i.instanceUid, i.bytes]));
const quiet = {};

/** Every file under `dir`, relative, sorted. */
async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(join(dir, prefix))) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (rel === ".rad69") continue; // the lock and the journal
    if (entry.isDirectory) out.push(...await listFiles(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}

/** Asserts that every instance of `refs` is on disk, byte-identical. */
async function assertFiles(dir: string, refs: readonly InstanceReference[]) {
  for (const ref of refs) {
    const bytes = await Deno.readFile(downloadPath(dir, ref));
    assert.ok(
      sameBytes(bytes, BYTES.get(ref.instanceUid)!),
      `file of ${ref.instanceUid} differs from the source`,
    );
  }
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rad69-download-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test(
  "downloadInstances() writes every instance byte-identical under <study>/<series>/<instance>.dcm",
  { timeout: 30_000 },
  async () => {
    await withDir(async (dir) => {
      await using server = await FakeRad69Server.start({ instances: STUDY });
      using client = new Rad69Client({ url: server.url, logger: quiet });
      const seen: DownloadProgress[] = [];
      const report = await client.download(REFS, dir, {
        onProgress: (p) => seen.push(p),
      });
      assert.equal(report.delivered, 6);
      assert.equal(report.skipped, 0);
      assert.equal(report.failed, 0);
      assert.equal(report.complete, true);
      assert.equal(report.dir, dir);
      assert.deepEqual(
        report.entries.map((e) => e.ref.instanceUid),
        REFS.map((r) => r.instanceUid),
        "entries in request order",
      );
      const total = STUDY.reduce((n, i) => n + i.bytes.length, 0);
      assert.equal(report.totalBytes, total);
      assert.ok(report.receivedBytes > total, "MIME framing counted too");
      assert.equal(report.attempts.length, 2, "one attempt per series");
      for (const entry of report.entries) {
        assert.equal(entry.status, "delivered");
        assert.equal(entry.path, downloadPath(dir, entry.ref));
        if (entry.status === "delivered") {
          assert.equal(entry.bytes, BYTES.get(entry.ref.instanceUid)!.length);
        }
      }
      await assertFiles(dir, REFS);
      assert.deepEqual(
        await listFiles(dir),
        REFS.map((r) => `${r.studyUid}/${r.seriesUid}/${r.instanceUid}.dcm`)
          .sort(),
        "nothing but the final files",
      );
      const settled = seen.filter((p) => p.entry !== undefined);
      assert.equal(settled.length, 6);
      assert.deepEqual(settled.map((p) => p.instancesDone), [1, 2, 3, 4, 5, 6]);
      const last = seen.at(-1)!;
      assert.equal(last.instancesTotal, 6);
      assert.equal(last.bytesWritten, total);
      assert.equal(last.bytesEstimatedTotal, total);
      assert.ok(seen.some((p) => p.entry === undefined && p.bytesReceived > 0));
      for (let i = 1; i < seen.length; i++) {
        assert.ok(seen[i]!.bytesReceived >= seen[i - 1]!.bytesReceived);
      }
    });
  },
);

Deno.test(
  "downloadInstances() reports a missing instance as failed with its reason and writes no file for it",
  { timeout: 30_000 },
  async () => {
    await withDir(async (dir) => {
      await using server = await FakeRad69Server.start({ instances: STUDY });
      using client = new Rad69Client({ url: server.url, logger: quiet });
      const missing = { ...REFS[0]!, instanceUid: `${REFS[0]!.seriesUid}.999` };
      const report = await client.download([...REFS, missing], dir);
      assert.equal(report.delivered, 6);
      assert.equal(report.failed, 1);
      assert.equal(report.complete, false);
      const failed = report.entries.at(-1)!;
      assert.equal(failed.status, "failed");
      if (failed.status === "failed") {
        assert.ok(failed.error instanceof XDSMissingDocumentError);
        assert.equal(failed.reason, failed.error.message);
        assert.match(failed.reason, /999/);
      }
      await assert.rejects(
        Deno.stat(downloadPath(dir, missing)),
        Deno.errors.NotFound,
      );
      await assertFiles(dir, REFS);
    });
  },
);

Deno.test(
  "downloadInstances() with resume skips complete files and re-downloads corrupt or foreign ones",
  { timeout: 30_000 },
  async () => {
    await withDir(async (dir) => {
      await using server = await FakeRad69Server.start({ instances: STUDY });
      using client = new Rad69Client({ url: server.url, logger: quiet });
      await client.download(REFS, dir);
      // Corrupt two files: one truncated to its preamble, one holding another
      // instance's bytes (a valid DICOM file with the wrong SOP Instance UID).
      await Deno.writeFile(
        downloadPath(dir, REFS[1]!),
        BYTES.get(REFS[1]!.instanceUid)!.subarray(0, 100),
      );
      await Deno.writeFile(
        downloadPath(dir, REFS[4]!),
        BYTES.get(REFS[5]!.instanceUid)!,
      );
      server.clearRequests();
      const report = await client.download(REFS, dir, {
        resume: true,
      });
      assert.equal(report.skipped, 4);
      assert.equal(report.delivered, 2);
      assert.deepEqual(
        server.requests.flatMap((r) => r.documentUniqueIds).sort(),
        [REFS[1]!.instanceUid, REFS[4]!.instanceUid].sort(),
        "only the bad files were requested again",
      );
      const skipped = report.entries.filter((e) => e.status === "skipped");
      assert.equal(
        report.skippedBytes,
        skipped.reduce((n, e) => n + BYTES.get(e.ref.instanceUid)!.length, 0),
      );
      await assertFiles(dir, REFS);

      server.clearRequests();
      const again = await client.download(REFS, dir, {
        resume: true,
      });
      assert.equal(again.skipped, 6);
      assert.equal(again.attempts.length, 0);
      assert.equal(server.requests.length, 0, "nothing requested");
    });
  },
);

Deno.test("downloadInstances() without resume replaces existing files", {
  timeout: 30_000,
}, async () => {
  await withDir(async (dir) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    using client = new Rad69Client({ url: server.url, logger: quiet });
    const path = downloadPath(dir, REFS[0]!);
    await Deno.mkdir(join(path, ".."), { recursive: true });
    await Deno.writeTextFile(path, "stale content");
    const report = await client.download(REFS.slice(0, 1), dir);
    assert.equal(report.delivered, 1);
    await assertFiles(dir, REFS.slice(0, 1));
  });
});

Deno.test(
  "downloadInstances() removes stale temporary files of the requested instances only",
  { timeout: 30_000 },
  async () => {
    await withDir(async (dir) => {
      await using server = await FakeRad69Server.start({ instances: STUDY });
      using client = new Rad69Client({ url: server.url, logger: quiet });
      const ref = REFS[0]!;
      const folder = join(dir, ref.studyUid, ref.seriesUid);
      await Deno.mkdir(folder, { recursive: true });
      const stale = [
        `.${ref.instanceUid}.dcm.0a1b2c3d4e5f.part`,
        `.${REFS[1]!.instanceUid}.dcm.ffffffffffff.part`,
      ];
      const kept = [`.1.2.3.dcm.0123456789ab.part`, "notes.txt"];
      for (const name of [...stale, ...kept]) {
        await Deno.writeTextFile(join(folder, name), "half");
      }
      const report = await client.download(REFS.slice(0, 2), dir);
      assert.equal(report.staleFilesRemoved, 2);
      assert.equal(report.delivered, 2);
      const names = (await listFiles(folder)).sort();
      assert.deepEqual(
        names,
        [...kept, `${ref.instanceUid}.dcm`, `${REFS[1]!.instanceUid}.dcm`]
          .sort(),
      );
    });
  },
);

Deno.test(
  "downloadInstances() never leaves a partial file when the answer is cut",
  { timeout: 30_000 },
  async () => {
    await withDir(async (dir) => {
      const big = syntheticStudy({
        series: 1,
        instancesPerSeries: 3,
        pixelBytes: 200_000,
        seed: 5,
      });
      await using server = await FakeRad69Server.start({
        instances: big,
        // Cut inside the second instance's part.
        plan: { truncate: { at: 300_000, mode: "end" } },
      });
      using client = new Rad69Client({
        url: server.url,
        retries: 0,
        logger: quiet,
      });
      const refs = refsOf(big);
      const report = await client.download(refs, dir);
      assert.equal(report.delivered, 1);
      assert.equal(report.failed, 2);
      for (const entry of report.entries.slice(1)) {
        assert.equal(entry.status, "failed");
        if (entry.status === "failed") {
          assert.ok(entry.error instanceof TruncatedResponseError);
        }
      }
      assert.deepEqual(await listFiles(dir), [
        `${refs[0]!.studyUid}/${refs[0]!.seriesUid}/${
          refs[0]!.instanceUid
        }.dcm`,
      ]);
      assert.ok(
        sameBytes(
          await Deno.readFile(downloadPath(dir, refs[0]!)),
          big[0]!.bytes,
        ),
      );
    });
  },
);

Deno.test("downloadInstances() records every attempt of a retried request", {
  timeout: 30_000,
}, async () => {
  await withDir(async (dir) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    server.enqueue({ http: { status: 503, body: "busy" } });
    using client = new Rad69Client({
      url: server.url,
      retryBaseDelayMs: 1,
      retryMaxDelayMs: 5,
      logger: quiet,
    });
    const seen: number[] = [];
    const report = await client.download(REFS.slice(0, 3), dir, {
      onAttempt: (a) => seen.push(a.attempt),
    });
    assert.equal(report.delivered, 3);
    assert.deepEqual(report.attempts.map((a) => a.attempt), [1, 2]);
    assert.deepEqual(seen, [1, 2]);
    assert.equal(report.attempts[0]!.retrying, 3);
    assert.equal(report.attempts[1]!.delivered, 3);
  });
});

Deno.test("downloadInstances() stops on abort and leaves no temporary file", {
  timeout: 30_000,
}, async (t) => {
  for (const when of ["between instances", "while the body stalls"]) {
    await t.step(when, async () => {
      await withDir(async (dir) => {
        await using server = await FakeRad69Server.start({
          instances: STUDY,
          // Deliver the first part, then stall (until the server closes).
          plan: { stall: { at: 12_000 } },
        });
        using client = new Rad69Client({ url: server.url, logger: quiet });
        const controller = new AbortController();
        const reason = new DOMException("Stopped by the test", "AbortError");
        let timer: ReturnType<typeof setTimeout> | undefined;
        const abort = () => controller.abort(reason);
        await assert.rejects(
          client.download(REFS.slice(0, 3), dir, {
            signal: controller.signal,
            onProgress: (p) => {
              if (p.delivered !== 1 || timer !== undefined) return;
              if (when === "between instances") abort();
              else timer = setTimeout(abort, 50);
            },
          }),
          (e) => e === reason,
        );
        clearTimeout(timer);
        const files = await listFiles(dir);
        assert.ok(files.every((f) => !f.endsWith(".part")), files.join(", "));
        assert.equal(files.length, 1, "the instance delivered before");
        const uid = files[0]!.split("/").at(-1)!.replace(/\.dcm$/, "");
        assert.ok(
          sameBytes(await Deno.readFile(join(dir, files[0]!)), BYTES.get(uid)!),
        );
      });
    });
  }
});

Deno.test("downloadInstances() rejects bad input before writing anything", {
  timeout: 30_000,
}, async () => {
  await withDir(async (dir) => {
    const out = join(dir, "out");
    using client = new Rad69Client({ url: "http://127.0.0.1:9/rad69" });
    await assert.rejects(
      client.download([{ studyUid: "1.2", seriesUid: "1.2.3" }], out),
      NonInstanceParameterError,
    );
    await assert.rejects(
      client.download(
        [{ studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "../1" }],
        out,
      ),
      InvalidUidError,
    );
    await assert.rejects(client.download(REFS, ""), TypeError);
    const aborted = AbortSignal.abort(new Error("already aborted"));
    await assert.rejects(
      client.download(REFS, out, { signal: aborted }),
      /already aborted/,
    );
    await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
  });
});

Deno.test(
  "downloadInstances() throws a file-system error when the folder is unusable, before requesting anything",
  { timeout: 30_000 },
  async () => {
    await withDir(async (dir) => {
      await using server = await FakeRad69Server.start({ instances: STUDY });
      using client = new Rad69Client({ url: server.url, logger: quiet });
      const ref = REFS[0]!;
      // A file where the study folder should be.
      await Deno.writeTextFile(join(dir, ref.studyUid), "in the way");
      await assert.rejects(
        client.download([ref], dir),
        Deno.errors.NotADirectory,
      );
      assert.deepEqual(await listFiles(dir), [ref.studyUid]);
      assert.equal(server.requests.length, 0);
    });
  },
);

Deno.test(
  "downloadInstances() fails an instance whose file cannot be written, keeping the others",
  {
    timeout: 30_000,
  },
  async () => {
    await withDir(async (dir) => {
      await using server = await FakeRad69Server.start({ instances: STUDY });
      using client = new Rad69Client({ url: server.url, logger: quiet });
      // A non-empty folder where the file of an instance of the second
      // series should go: its rename fails.
      const blocked = downloadPath(dir, REFS[4]!);
      await Deno.mkdir(blocked, { recursive: true });
      await Deno.writeTextFile(join(blocked, "keep.txt"), "in the way");
      const report = await client.download(REFS, dir);
      const entry = report.entries[4]!;
      assert.equal(entry.status, "failed");
      assert.ok(
        entry.status === "failed" && entry.error instanceof FileWriteError,
      );
      assert.equal(report.failed, 1);
      const files = await listFiles(dir);
      assert.ok(files.every((f) => !f.endsWith(".part")), files.join(", "));
      await assertFiles(dir, REFS.filter((_, i) => i !== 4));
    });
  },
);

Deno.test("downloadInstances() works with a concurrent client (workers)", {
  timeout: 30_000,
}, async () => {
  await withDir(async (dir) => {
    const study = syntheticStudy({
      series: 4,
      instancesPerSeries: 3,
      pixelBytes: 100_000,
      seed: 21,
    });
    await using server = await FakeRad69Server.start({ instances: study });
    using client = new Rad69Client(
      {
        workers: true,
        url: server.url,
        logger: quiet,
        concurrency: 2,
      } as ConstructorParameters<typeof Rad69Client>[0],
    );
    const refs = refsOf(study);
    const report = await client.download(refs, dir);
    assert.equal(report.delivered, 12, JSON.stringify(report.entries));
    for (const instance of study) {
      const bytes = await Deno.readFile(downloadPath(dir, instance));
      assert.ok(sameBytes(bytes, instance.bytes), instance.instanceUid);
    }
    assert.equal(server.requests.length, 4);
  });
});

Deno.test("downloadPath() refuses UIDs that are not safe path components", {
  timeout: 30_000,
}, () => {
  const ref = { studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" };
  assert.equal(downloadPath("out", ref), "out/1.2/1.2.3/1.2.3.4.dcm");
  for (const bad of ["..", ".", "1/2", "a.b", ""]) {
    assert.throws(
      () => downloadPath("out", { ...ref, seriesUid: bad }),
      InvalidUidError,
      bad,
    );
  }
  assert.equal(
    downloadPath(new URL("file:///tmp/x/"), ref),
    "/tmp/x/1.2/1.2.3/1.2.3.4.dcm",
  );
});
