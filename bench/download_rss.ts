/**
 * Peak memory of a large download: how much the client process's resident
 * set grows while `downloadInstances()` writes 2 GiB of 512 KiB – 8 MiB
 * instances to disk. The bound to meet: 64 MiB plus the largest instance.
 *
 *   deno run --allow-net=127.0.0.1 --allow-read --allow-write --allow-env --allow-run bench/download_rss.ts
 *
 * Environment: RSS_GIB (default 2) sets the size, RSS_CONCURRENCY (default
 * "1,4") the client concurrencies measured, RSS_DATA the folder of generated
 * instances (default `<tmp>/rad69-rss-data-<GiB>`, kept between runs).
 * RSS_SINGLE_MIB=N instead downloads one instance of N MiB (up to 4095:
 * a DICOM element length is 32-bit), whose file is written in pieces, never
 * held whole; its bound is then 64 MiB (the instance is not held).
 *
 * Bounds: 64 MiB + largest instance at concurrency 1, 64 MiB +
 * concurrency × largest above (issue 10).
 *
 * Three processes: this one generates the instances on disk once and
 * reports; a fake server process (bench/_bench_server.ts) serves them from
 * that folder, streaming each file from disk (so its memory is not counted);
 * a client process (this file with `--client`) downloads them. The client
 * takes its baseline RSS after warming up (one small download), samples
 * `Deno.memoryUsage().rss` every 20 ms during the download, and reads the
 * kernel's high-water mark `VmHWM` from /proc/<pid>/status at the end (on
 * Linux; it counts every peak, even between samples, and the start-up too,
 * so growth = max(VmHWM, sampled peak) − baseline is an upper bound).
 *
 * @module
 */

import { join } from "node:path";
import { Rad69Client, type Rad69ClientOptions } from "../src/client.ts";
import type { InstanceReference } from "../src/references.ts";
import { buildDicomInstance } from "../src/testing/mod.ts";
import { startServerProcess } from "./_bench_server.ts";

const MIB = 1024 * 1024;
const ROOT_UID = "1.2.826.0.1.3680043.10.1234.77";

/** What the client process reports. */
interface ClientResult {
  concurrency: number;
  delivered: number;
  failed: number;
  bytes: number;
  elapsedMs: number;
  baselineRss: number;
  peakRssSampled: number;
  vmHwm: number | undefined;
}

function env(name: string, fallback: string): string {
  try {
    return Deno.env.get(name) ?? fallback;
  } catch {
    return fallback;
  }
}

/** Instance sizes from 512 KiB to 8 MiB, deterministic, summing to `total`. */
function sizes(total: number): number[] {
  const out: number[] = [];
  let sum = 0;
  let state = 12345;
  while (sum < total) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    // Mostly small, some large: 512 KiB × 2^(0..4).
    const size = 512 * 1024 * 2 ** (state % 5);
    out.push(size);
    sum += size;
  }
  return out;
}

/**
 * Generates one instance of `mib` MiB (once) and returns the folder: the
 * head of a small synthetic instance whose Pixel Data length is patched,
 * then the pixel bytes written in 4 MiB pieces.
 */
async function generateSingle(mib: number): Promise<string> {
  const dir = join(Deno.env.get("TMPDIR") ?? "/tmp", `rad69-rss-single-${mib}`);
  try {
    await Deno.stat(join(dir, "refs.json"));
    return dir;
  } catch {
    // Not generated yet.
  }
  await Deno.mkdir(dir, { recursive: true });
  const studyUid = ROOT_UID;
  const seriesUid = `${studyUid}.1`;
  const instanceUid = `${seriesUid}.1`;
  const most = Math.min(mib * MIB, 0xfffffffe - 4096);
  const pixels = most - (most % 2);
  const small = buildDicomInstance({
    studyUid,
    seriesUid,
    instanceUid,
    pixelBytes: 16,
  });
  // Explicit VR Little Endian (7FE0,0010) OB/OW: tag, VR, 2 reserved, length.
  const head = small.slice(0, small.length - 16);
  const at = head.length - 12;
  if (head[at] !== 0xe0 || head[at + 1] !== 0x7f || head[at + 2] !== 0x10) {
    throw new Error("Pixel Data is not the last element of the instance");
  }
  new DataView(head.buffer).setUint32(at + 8, pixels, true);
  using file = await Deno.open(join(dir, `${instanceUid}.dcm`), {
    write: true,
    create: true,
    truncate: true,
  });
  await file.write(head);
  const piece = new Uint8Array(4 * MIB);
  for (let i = 0; i < piece.length; i++) piece[i] = (i * 7 + (i >> 12)) & 0xff;
  for (let left = pixels; left > 0; left -= piece.length) {
    await file.write(piece.subarray(0, Math.min(left, piece.length)));
  }
  const bytes = head.length + pixels;
  await Deno.writeTextFile(
    join(dir, "refs.json"),
    JSON.stringify({ refs: [{ studyUid, seriesUid, instanceUid }], bytes }),
  );
  return dir;
}

/** Generates the instances (once) and returns the folder. */
async function generate(gib: number): Promise<string> {
  const dir = env(
    "RSS_DATA",
    join(Deno.env.get("TMPDIR") ?? "/tmp", `rad69-rss-data-${gib}`),
  );
  try {
    await Deno.stat(join(dir, "refs.json"));
    return dir;
  } catch {
    // Not generated yet.
  }
  await Deno.mkdir(dir, { recursive: true });
  const refs: InstanceReference[] = [];
  let bytes = 0;
  const list = sizes(gib * 1024 * MIB);
  const perSeries = 32;
  const studyUid = ROOT_UID;
  for (const [i, pixelBytes] of list.entries()) {
    const seriesUid = `${studyUid}.${Math.floor(i / perSeries) + 1}`;
    const instanceUid = `${seriesUid}.${(i % perSeries) + 1}`;
    const file = buildDicomInstance({
      studyUid,
      seriesUid,
      instanceUid,
      pixelBytes,
      pixelContent: "random",
      seed: i + 1,
    });
    await Deno.writeFile(join(dir, `${instanceUid}.dcm`), file);
    refs.push({ studyUid, seriesUid, instanceUid });
    bytes += file.length;
  }
  await Deno.writeTextFile(
    join(dir, "refs.json"),
    JSON.stringify({ refs, bytes }),
  );
  return dir;
}

/**
 * The kernel's peak resident set of this process, in bytes (Linux). Deno
 * wants --allow-all to read /proc itself, so `cat` reads it (--allow-run=cat).
 */
async function vmHwm(): Promise<number | undefined> {
  if (Deno.build.os !== "linux") return undefined;
  try {
    const { stdout } = await new Deno.Command("cat", {
      args: [`/proc/${Deno.pid}/status`],
      stdout: "piped",
      stderr: "null",
    }).output();
    const status = new TextDecoder().decode(stdout);
    const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

/** The client process: downloads everything and reports its memory. */
async function client(url: string, out: string, concurrency: number) {
  const data = env("RSS_DATA_REFS", "");
  const { refs } = JSON.parse(await Deno.readTextFile(data)) as {
    refs: InstanceReference[];
  };
  const options: Rad69ClientOptions & { concurrency?: number } = {
    url,
    logger: {},
    concurrency,
  };
  using c = new Rad69Client(options);
  // Warm up: load and compile everything on a small download first (not
  // with one single instance: that would be the download itself).
  if (refs.length > 1) {
    await c.download(refs.slice(0, 2), join(out, "warmup"));
    await Deno.remove(join(out, "warmup"), { recursive: true });
  }
  const baselineRss = Deno.memoryUsage().rss;
  let peak = baselineRss;
  const timer = setInterval(() => {
    peak = Math.max(peak, Deno.memoryUsage().rss);
  }, 20);
  let report;
  try {
    report = await c.download(refs, out);
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, Deno.memoryUsage().rss);
  const result: ClientResult = {
    concurrency,
    delivered: report.delivered,
    failed: report.failed,
    bytes: report.totalBytes,
    elapsedMs: Math.round(report.elapsedMs),
    baselineRss,
    peakRssSampled: peak,
    vmHwm: await vmHwm(),
  };
  await Deno.stdout.write(
    new TextEncoder().encode(`${JSON.stringify(result)}\n`),
  );
}

/** The parent: generates, serves, runs the client, reports. */
async function main(): Promise<number> {
  const gib = Number(env("RSS_GIB", "2"));
  const concurrencies = env("RSS_CONCURRENCY", "1,4").split(",").map(Number);
  const single = Number(env("RSS_SINGLE_MIB", "0"));
  const data = single > 0 ? await generateSingle(single) : await generate(gib);
  const { refs, bytes } = JSON.parse(
    await Deno.readTextFile(join(data, "refs.json")),
  ) as { refs: InstanceReference[]; bytes: number };
  const largest = single > 0
    ? bytes
    : Math.max(...sizes(gib * 1024 * MIB)) + 4096;
  const boundAt = (concurrency: number) =>
    single > 0 ? 64 * MIB : 64 * MIB + concurrency * largest;
  await using server = await startServerProcess([
    "--directory",
    data,
    "--chunk-kib",
    "1024",
  ]);
  const fmt = (n: number) => `${(n / MIB).toFixed(1)} MiB`;
  // deno-lint-ignore no-console
  console.log(
    single > 0
      ? `1 instance of ${fmt(bytes)}; bound: 64 MiB (not held in memory)`
      : `${refs.length} instances, ${
        fmt(bytes)
      } (512 KiB – 8 MiB each); bound: 64 MiB + concurrency × largest (${
        fmt(largest)
      })`,
  );
  let ok = true;
  for (const concurrency of concurrencies) {
    const out = await Deno.makeTempDir({ prefix: "rad69-rss-out-" });
    try {
      const child = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--allow-net=127.0.0.1",
          "--allow-read",
          "--allow-write",
          "--allow-env",
          "--allow-run=cat",
          new URL(import.meta.url).pathname,
          "--client",
          server.url,
          out,
          String(concurrency),
        ],
        env: { RSS_DATA_REFS: join(data, "refs.json") },
        stdout: "piped",
        stderr: "inherit",
      }).output();
      if (child.code !== 0) throw new Error(`Client exited ${child.code}`);
      const result = JSON.parse(
        new TextDecoder().decode(child.stdout),
      ) as ClientResult;
      const bound = boundAt(concurrency);
      const peak = Math.max(result.peakRssSampled, result.vmHwm ?? 0);
      const growth = peak - result.baselineRss;
      const pass = growth <= bound && result.delivered === refs.length;
      ok &&= pass;
      // deno-lint-ignore no-console
      console.log(
        `concurrency ${concurrency}: ${result.delivered}/${refs.length} delivered, ${
          fmt(result.bytes)
        } in ${(result.elapsedMs / 1000).toFixed(1)} s (${
          fmt(result.bytes / (result.elapsedMs / 1000))
        }/s); RSS baseline ${fmt(result.baselineRss)}, peak sampled ${
          fmt(result.peakRssSampled)
        }, VmHWM ${
          result.vmHwm === undefined ? "n/a" : fmt(result.vmHwm)
        }; growth ${fmt(growth)} ${pass ? "<=" : ">"} ${fmt(bound)} ${
          pass ? "PASS" : "FAIL"
        }`,
      );
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  }
  return ok ? 0 : 1;
}

if (import.meta.main) {
  if (Deno.args[0] === "--client") {
    await client(Deno.args[1]!, Deno.args[2]!, Number(Deno.args[3] ?? "1"));
  } else {
    Deno.exit(await main());
  }
}
