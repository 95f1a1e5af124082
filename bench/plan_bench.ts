/**
 * Planning a long instance list: parse a CSV `--instances` list, flatten and
 * check it (`toInstanceRefs`) and group it into requests (`planBatches`),
 * with no network. Time and memory must grow linearly with the list.
 *
 *   deno bench --allow-read --allow-run --allow-env bench/plan_bench.ts   # 10^4, 10^5
 *   deno run -A bench/plan_bench.ts     # 10^4..10^6, RSS
 *
 * Run as a script, each size is planned in its own child process, which
 * reports the seconds of each step and its resident-set growth: the
 * kernel's high-water mark `VmHWM` (from /proc/self/status) minus the RSS
 * once the CSV text is built, so the text itself is not counted.
 *
 * @module
 */

import { parseInstanceList } from "../src/instance_list.ts";
import { planBatches } from "../src/client.ts";
import { toInstanceRefs } from "../src/references.ts";

const ROOT = "1.2.826.0.1.3680043.10.1234";

/** A CSV list of `n` instances in series of 500 across studies of 10 series. */
export function csvList(n: number): string {
  const lines = ["study,series,instance"];
  for (let i = 0; i < n; i++) {
    const series = Math.floor(i / 500);
    const study = Math.floor(series / 10);
    lines.push(`${ROOT}.${study},${ROOT}.${study}.${series},${ROOT}.9.${i}`);
  }
  return lines.join("\n");
}

/** Plans a CSV list: what the CLI does before its first request. */
function plan(text: string): number {
  const refs = toInstanceRefs(parseInstanceList(text, { file: "list.csv" }));
  return planBatches(refs, {
    requestPerSeries: true,
    maxInstancesPerRequest: 200,
  }).length;
}

for (const n of [10_000, 100_000]) {
  const text = csvList(n);
  Deno.bench({
    name: `plan ${n} references`,
    group: "plan",
    baseline: n === 10_000,
    fn: () => {
      plan(text);
    },
  });
}

/** The kernel's peak resident set of this process, in bytes. */
function vmHwm(): number | undefined {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

/** One size, measured in this process; prints one JSON line. */
function child(n: number): void {
  const text = csvList(n);
  const baseline = Deno.memoryUsage().rss;
  let t = performance.now();
  const listed = parseInstanceList(text, { file: "list.csv" });
  const parseS = (performance.now() - t) / 1000;
  t = performance.now();
  const refs = toInstanceRefs(listed);
  const flattenS = (performance.now() - t) / 1000;
  t = performance.now();
  const batches = planBatches(refs, {
    requestPerSeries: true,
    maxInstancesPerRequest: 200,
  });
  const planS = (performance.now() - t) / 1000;
  const peak = Math.max(vmHwm() ?? 0, Deno.memoryUsage().rss);
  console.log(JSON.stringify({
    n,
    batches: batches.length,
    parseS,
    flattenS,
    planS,
    totalS: parseS + flattenS + planS,
    rssGrowthMiB: (peak - baseline) / 2 ** 20,
  }));
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--child");
  if (at >= 0) {
    child(Number(Deno.args[at + 1]));
  } else {
    const rows: string[] = [
      "| references | requests | parse s | flatten s | plan s | total s | s per 10^5 | RSS growth MiB | bytes per reference |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ];
    for (const n of [10_000, 100_000, 1_000_000]) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all", // reading /proc/self/status needs it
          "--v8-flags=--max-old-space-size=4096",
          import.meta.filename!,
          "--child",
          String(n),
        ],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      const r = JSON.parse(new TextDecoder().decode(out.stdout));
      rows.push(
        `| ${n} | ${r.batches} | ${r.parseS.toFixed(3)} | ${
          r.flattenS.toFixed(3)
        } | ${r.planS.toFixed(3)} | ${r.totalS.toFixed(3)} | ${
          (r.totalS / n * 1e5).toFixed(3)
        } | ${r.rssGrowthMiB.toFixed(0)} | ${
          Math.round(r.rssGrowthMiB * 2 ** 20 / n)
        } |`,
      );
    }
    // deno-lint-ignore no-console
    console.log(rows.join("\n"));
  }
}
