/**
 * Whole-study benchmark (issue 10): a study of 32 series (about 1 GiB by
 * default) from a fast local fake server in its own process, fetched
 *
 * - (a) by the CLI (`cli.ts`, a subprocess) into a fresh folder at
 *   `--concurrency 1` and `4`, against `curl -o FILE` of the same 32
 *   per-series answers from the same server (one after another, and four at
 *   a time with `xargs -P 4`); the curl rows are skipped when `curl` is
 *   absent;
 * - (b) by `datasets()` in this process at concurrency 1 and 4, against a
 *   raw BYOB drain of the same 32 requests (one after another), and against
 *   one raw request for everything.
 *
 * Runs are interleaved (every contender once per round), medians reported
 * with every run's time; dirty pages are flushed (`sync`) before each run. With `--root DIR`, a second checkout (e.g. the
 * commit before a change) is measured in the same rounds, so before/after
 * figures come from one run on one machine.
 *
 *   deno run -A bench/study_bench.ts [--rounds 3] [--series 32]
 *     [--per-series 16] [--pixel-kib 2048] [--root ../baseline]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { buildRetrieveRequest } from "../src/soap/request.ts";
import { planBatches } from "../src/client.ts";
import type { InstanceReference } from "../src/reference_types.ts";
import { startServerProcess } from "./_bench_server.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    series: { type: "string", default: "32" },
    "per-series": { type: "string", default: "16" },
    "pixel-kib": { type: "string", default: "2048" },
    root: { type: "string", multiple: true, default: [] },
    only: { type: "string" },
  },
});
const rounds = Number(values.rounds);
const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const roots = [here, ...values.root.map((r) => Deno.realPathSync(r))];

await using server = await startServerProcess([
  "--series",
  values.series,
  "--per-series",
  values["per-series"],
  "--pixel-kib",
  values["pixel-kib"],
]);
const refs = server.refs;
const total = server.bytes;
const batches = planBatches(refs);
console.error(
  `study: ${refs.length} instances in ${batches.length} series, ${
    (total / 2 ** 20).toFixed(0)
  } MiB of DICOM, server ${server.url}`,
);

const work = await Deno.makeTempDir({ prefix: "rad69-study-bench-" });
const listPath = join(work, "instances.csv");
await Deno.writeTextFile(
  listPath,
  refs.map((r) => `${r.studyUid},${r.seriesUid},${r.instanceUid}`).join("\n") +
    "\n",
);
/** One request body file per series (and one for everything). */
const requests = batches.map((batch, i) => {
  const request = buildRetrieveRequest(batch, { url: server.url });
  const path = join(work, `request-${i}.xml`);
  Deno.writeFileSync(path, request.body);
  return { path, body: request.body, contentType: request.contentType };
});
const all = buildRetrieveRequest(refs, { url: server.url });

/** A contender: runs once, returns the bytes it received or wrote. */
interface Contender {
  name: string;
  run: () => Promise<number>;
}

async function rmrf(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch(() => {});
}

function cli(root: string, concurrency: number): Contender {
  const label = root === here ? "" : ` [${root.split("/").pop()}]`;
  return {
    name: `CLI --concurrency ${concurrency}${label}`,
    run: async () => {
      const out = join(work, "out");
      await rmrf(out);
      const child = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net",
          "--allow-read",
          "--allow-write",
          "--allow-env",
          `--config=${join(root, "deno.json")}`,
          join(root, "cli.ts"),
          "--url",
          server.url,
          "--instances",
          listPath,
          "--out",
          out,
          "--concurrency",
          String(concurrency),
          "--json",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!child.success) {
        throw new Error(new TextDecoder().decode(child.stderr).slice(0, 500));
      }
      const report = JSON.parse(new TextDecoder().decode(child.stdout));
      const bytes = report.totalBytes ?? report.report?.totalBytes;
      return bytes;
    },
  };
}

function curl(parallel: number): Contender {
  return {
    name: parallel === 1
      ? "curl -o FILE, 32 requests one after another"
      : `curl -o FILE, 32 requests ${parallel} at a time`,
    run: async () => {
      const out = join(work, "curl");
      await rmrf(out);
      await Deno.mkdir(out);
      let next = 0;
      const one = async () => {
        while (next < requests.length) {
          const i = next++;
          const r = requests[i]!;
          const child = await new Deno.Command("curl", {
            args: [
              "-sS",
              "--fail",
              "-o",
              join(out, `${i}.bin`),
              "-H",
              `content-type: ${r.contentType}`,
              "--data-binary",
              `@${r.path}`,
              server.url,
            ],
          }).output();
          if (!child.success) {
            throw new Error(new TextDecoder().decode(child.stderr));
          }
        }
      };
      await Promise.all(Array.from({ length: parallel }, one));
      let bytes = 0;
      for await (const e of Deno.readDir(out)) {
        bytes += (await Deno.stat(join(out, e.name))).size;
      }
      return bytes;
    },
  };
}

async function drain(body: Uint8Array, contentType: string): Promise<number> {
  const response = await fetch(server.url, {
    method: "POST",
    headers: { "content-type": contentType },
    body: body as Uint8Array<ArrayBuffer>,
  });
  const reader = response.body!.getReader({ mode: "byob" });
  let buffer = new ArrayBuffer(1 << 20);
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (done) break;
    bytes += value.length;
    buffer = value.buffer as ArrayBuffer;
  }
  return bytes;
}

function datasets(root: string, concurrency: number): Contender {
  const label = root === here ? "" : ` [${root.split("/").pop()}]`;
  return {
    name: `datasets(), concurrency ${concurrency}${label}`,
    run: async () => {
      const { Rad69Client } = await import(join(root, "mod.ts"));
      using client = new Rad69Client({ url: server.url, concurrency });
      let bytes = 0;
      for await (
        const instance of client.datasets(refs as InstanceReference[])
      ) {
        bytes += instance.bytes.length;
      }
      return bytes;
    },
  };
}

const hasCurl = await new Deno.Command("sh", {
  args: ["-c", "command -v curl"],
  stdout: "null",
}).output().then((o) => o.success, () => false);

const contenders: Contender[] = [
  ...roots.flatMap((root) => [cli(root, 1), cli(root, 4)]),
  ...(hasCurl ? [curl(1), curl(4)] : []),
  {
    name: "raw BYOB drain, 32 requests one after another",
    run: async () => {
      let bytes = 0;
      for (const r of requests) bytes += await drain(r.body, r.contentType);
      return bytes;
    },
  },
  {
    name: "raw BYOB drain, one request for everything",
    run: () => drain(all.body, all.contentType),
  },
  ...roots.flatMap((root) => [datasets(root, 1), datasets(root, 4)]),
].filter((c) => !values.only || c.name.includes(values.only));
if (!hasCurl) console.error("curl not found: its rows are skipped");

/**
 * Flushes dirty pages before each run (outside the timing), so that no
 * contender pays for the writeback of the files the one before it wrote.
 */
async function flushDisk(): Promise<void> {
  await new Deno.Command("sync").output().catch(() => {});
}

const times = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
for (let round = 0; round < rounds + 1; round++) {
  for (const c of contenders) {
    await flushDisk();
    const start = performance.now();
    const bytes = await c.run();
    const ms = performance.now() - start;
    if (bytes < total * 0.99) {
      throw new Error(`${c.name}: got ${bytes} of ${total} bytes`);
    }
    if (round > 0) times.get(c.name)!.push(ms); // round 0 warms up
    console.error(`${c.name}: ${ms.toFixed(0)} ms`);
  }
}
await rmrf(work);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const med = (name: string) => median(times.get(name) ?? [NaN]);
console.log(
  `\n${refs.length} instances, ${batches.length} series, ${
    (total / 2 ** 30).toFixed(2)
  } GiB; ${rounds} rounds after a warm-up; medians\n`,
);
console.log("| contender | runs (ms) | median ms | MB/s |");
console.log("| --- | --- | --- | --- |");
for (const c of contenders) {
  const ts = times.get(c.name)!;
  console.log(
    `| ${c.name} | ${ts.map((t) => t.toFixed(0)).join(" / ")} | ${
      med(c.name).toFixed(0)
    } | ${(total / 1e6 / (med(c.name) / 1000)).toFixed(0)} |`,
  );
}
const ratio = (a: string, b: string) =>
  times.has(a) && times.has(b) ? (med(b) / med(a)).toFixed(2) + "×" : "—";
console.log("\n| ratio (speed, median) | value | goal |");
console.log("| --- | --- | --- |");
console.log(
  `| CLI c1 vs curl sequential | ${
    ratio("CLI --concurrency 1", "curl -o FILE, 32 requests one after another")
  } | ≥ 0.9× |`,
);
console.log(
  `| CLI c4 vs curl 4 at a time | ${
    ratio("CLI --concurrency 4", "curl -o FILE, 32 requests 4 at a time")
  } | ≥ 0.9× |`,
);
console.log(
  `| CLI c4 vs CLI c1 | ${
    ratio("CLI --concurrency 4", "CLI --concurrency 1")
  } | ≥ 1× |`,
);
console.log(
  `| datasets() c1 vs raw drain, 32 requests | ${
    ratio(
      "datasets(), concurrency 1",
      "raw BYOB drain, 32 requests one after another",
    )
  } | ≥ 0.9× |`,
);
console.log(
  `| datasets() c4 vs one raw request for everything | ${
    ratio(
      "datasets(), concurrency 4",
      "raw BYOB drain, one request for everything",
    )
  } | ≥ 0.8× |`,
);
console.log(
  `| datasets() c4 vs datasets() c1 | ${
    ratio("datasets(), concurrency 4", "datasets(), concurrency 1")
  } | ≥ 1× |`,
);
