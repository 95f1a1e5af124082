import assert from "node:assert/strict";
import { join } from "node:path";
import { Rad69Client } from "../src/client.ts";
import { downloadPath } from "../src/download.ts";
import { silentLogger } from "../src/logger.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";
import { rad69, triplet } from "./_utils/cli.ts";
import { refsOf } from "./_utils/refs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const STUDY = syntheticStudy({
  series: 1,
  instancesPerSeries: 3,
  pixelBytes: 20_000,
  seed: 44,
});
const REFS = refsOf(STUDY);
const VICTIM = STUDY[1]!;

/** Where the pixel data element (7FE0,0010) starts in Part-10 bytes. */
function pixelDataOffset(bytes: Uint8Array): number {
  for (let i = 132; i + 4 <= bytes.length; i++) {
    if (
      bytes[i] === 0xe0 && bytes[i + 1] === 0x7f && bytes[i + 2] === 0x10 &&
      bytes[i + 3] === 0x00
    ) {
      return i;
    }
  }
  throw new Error("no pixel data");
}

/** Ways a file can be incomplete or wrong while its head is fine. */
function damages(bytes: Uint8Array): Record<string, Uint8Array> {
  const pixels = pixelDataOffset(bytes);
  const flipped = bytes.slice();
  flipped[bytes.length - 10] = flipped[bytes.length - 10]! ^ 0xff;
  return {
    "cut inside the pixel data": bytes.slice(0, bytes.length - 1000),
    "cut one byte short": bytes.slice(0, bytes.length - 1),
    "cut at the pixel data element": bytes.slice(0, pixels),
    "same size, one byte changed": flipped,
  };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rad69-journal-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function assertAllExact(dir: string): Promise<void> {
  for (const instance of STUDY) {
    assert.deepEqual(
      await Deno.readFile(downloadPath(dir, instance)),
      instance.bytes,
      instance.instanceUid,
    );
  }
}

Deno.test("resume downloads again a file its journal line does not prove", async (t) => {
  for (const [name, damaged] of Object.entries(damages(VICTIM.bytes))) {
    await t.step(name, async () => {
      await withDir(async (dir) => {
        await using server = await FakeRad69Server.start({ instances: STUDY });
        using client = new Rad69Client({
          url: server.url,
          logger: silentLogger,
          requestPerSeries: false,
        });
        assert.equal((await client.download(REFS, dir)).delivered, 3);
        await Deno.writeFile(downloadPath(dir, VICTIM), damaged);
        const again = await client.download(REFS, dir, { resume: true });
        assert.equal(again.skipped, 2);
        assert.equal(again.delivered, 1);
        assert.equal(again.entries[1]!.status, "delivered");
        assert.equal(server.requests.length, 2);
        await assertAllExact(dir);
        // And once proved, nothing more is asked.
        const third = await client.download(REFS, dir, { resume: true });
        assert.equal(third.skipped, 3);
        assert.equal(server.requests.length, 2);
      });
    });
  }
});

Deno.test("resume verifies files without a journal line by a full parse", async (t) => {
  const cases: Record<string, Uint8Array | undefined> = {
    complete: undefined,
    ...damages(VICTIM.bytes),
  };
  delete cases["same size, one byte changed"]; // only a hash can tell
  for (const [name, damaged] of Object.entries(cases)) {
    await t.step(name, async () => {
      await withDir(async (dir) => {
        // Files as an older version (no journal) left them.
        for (const instance of STUDY) {
          const path = downloadPath(dir, instance);
          await Deno.mkdir(join(path, ".."), { recursive: true });
          await Deno.writeFile(
            path,
            instance === VICTIM && damaged ? damaged : instance.bytes,
          );
        }
        await using server = await FakeRad69Server.start({ instances: STUDY });
        using client = new Rad69Client({
          url: server.url,
          logger: silentLogger,
        });
        const report = await client.download(REFS, dir, { resume: true });
        assert.equal(report.skipped, damaged ? 2 : 3);
        assert.equal(report.delivered, damaged ? 1 : 0);
        await assertAllExact(dir);
        const journal = await Deno.readTextFile(
          join(dir, ".rad69", "journal.jsonl"),
        );
        assert.equal(journal.trim().split("\n").length, 3);
      });
    });
  }
});

Deno.test("rad69 --resume replaces a truncated file", async () => {
  await withDir(async (dir) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const args = ["--url", server.url, "--out", dir, ...REFS.map(triplet)];
    assert.equal((await rad69(args)).code, 0);
    await Deno.writeFile(
      downloadPath(dir, VICTIM),
      VICTIM.bytes.slice(0, pixelDataOffset(VICTIM.bytes) + 100),
    );
    const again = await rad69([...args, "--resume", "--json"]);
    assert.equal(again.code, 0, again.stderr);
    const summary = JSON.parse(again.stdout);
    assert.equal(summary.skipped, 2);
    assert.equal(summary.delivered, 1);
    await assertAllExact(dir);
  });
});
