import assert from "node:assert/strict";
import { join } from "node:path";
import { Rad69Client } from "../src/client.ts";
import { downloadPath } from "../src/download.ts";
import { OutDirLockedError } from "../src/errors.ts";
import { silentLogger } from "../src/logger.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";
import { cliCommand, rad69, triplet } from "./_utils/cli.ts";
import { refsOf } from "./_utils/refs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const STUDY = syntheticStudy({
  series: 2,
  instancesPerSeries: 2,
  pixelBytes: 50_000,
  seed: 55,
});
const REFS = refsOf(STUDY);

/** Waits until `test()` holds (polling), or fails after `ms`. */
async function until(test: () => Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function assertAllExact(dir: string): Promise<void> {
  for (const instance of STUDY) {
    assert.deepEqual(
      await Deno.readFile(downloadPath(dir, instance)),
      instance.bytes,
    );
  }
}

Deno.test("a second rad69 on the same --out is refused (exit 2) while the first runs, and the first completes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rad69-lock-test-" });
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    // Slow enough that the first process is mid-download when the second
    // starts.
    plan: { bytesPerSecond: 200_000 },
  });
  try {
    const args = ["--url", server.url, "--out", dir, ...REFS.map(triplet)];
    await using first = cliCommand(args).spawn();
    // The first holds the lock once its pid is in the lock file, and is
    // downloading once the server got its request.
    await until(async () =>
      server.requests.length > 0 &&
      (await Deno.readTextFile(join(dir, ".rad69", "lock")).catch(() => ""))
          .trim() === String(first.pid)
    );
    const second = await rad69([...args, "--resume"]);
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, /Another download is writing into/);
    assert.match(second.stderr, new RegExp(`process ${first.pid}`));
    const firstResult = await first.output();
    assert.equal(
      firstResult.code,
      0,
      new TextDecoder().decode(firstResult.stderr),
    );
    await assertAllExact(dir);
    // The lock went with the first process: a third run may go.
    const third = await rad69([...args, "--resume", "--json"]);
    assert.equal(third.code, 0, third.stderr);
    assert.equal(JSON.parse(third.stdout).skipped, REFS.length);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a lock left by a killed process does not block the next run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rad69-lock-test-" });
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    plan: { bytesPerSecond: 100_000 },
  });
  try {
    const args = ["--url", server.url, "--out", dir, ...REFS.map(triplet)];
    const victim = cliCommand(args).spawn();
    await until(async () =>
      (await Deno.readTextFile(join(dir, ".rad69", "lock")).catch(() => ""))
        .trim() === String(victim.pid)
    );
    victim.kill("SIGKILL");
    await victim.output();
    const next = await rad69([...args, "--resume"]);
    assert.equal(next.code, 0, next.stderr);
    await assertAllExact(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("download() into a folder another download() of this process holds rejects with OutDirLockedError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rad69-lock-test-" });
  await using server = await FakeRad69Server.start({ instances: STUDY });
  using client = new Rad69Client({ url: server.url, logger: silentLogger });
  try {
    server.enqueue({ latencyMs: 500 });
    const first = client.download(REFS, dir);
    // The first call holds the folder once the server has its request.
    await until(() => Promise.resolve(server.requests.length > 0));
    await assert.rejects(
      client.download(REFS, dir),
      (e) => e instanceof OutDirLockedError && e.dir === dir,
    );
    assert.equal((await first).delivered, REFS.length);
    const again = await client.download(REFS, dir, { resume: true });
    assert.equal(again.skipped, REFS.length);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
