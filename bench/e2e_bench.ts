/**
 * End-to-end benchmark (issue 2 §9, issue 3 benchmark 4): one RAD-69
 * exchange from the fake server over loopback HTTP, 256 instances of 512 KiB
 * of pixel data (about 128 MiB of multipart answer) in one request.
 * Contenders, all in the same group:
 *
 * - a raw drain of the same POST's answer with a BYOB reader into a 1 MiB
 *   buffer (the baseline: the bytes arrive and are dropped);
 * - a raw drain with the default reader (Deno hands out 64 KiB chunks);
 * - `Rad69Client.datasets()` with the WASM engine and with the TS engine
 *   (split, SOAP root parsed, every part matched by Content-ID, copied out
 *   and checked with dicom-parser).
 *
 * The fake server runs in a Web Worker (this same module, started with
 * `new Worker(import.meta.url)`), so building and writing the answer happens
 * on another thread than the client; on a 2-core machine the two threads and
 * Deno's HTTP I/O still share the cores. E2E_BENCH_SERVER=main runs the
 * server on the client's thread instead, for comparison.
 *
 *   deno bench --allow-net=127.0.0.1 --allow-read --allow-env bench/e2e_bench.ts
 *
 * Before the `Deno.bench` runs, the contenders also run round-robin for
 * E2E_BENCH_ROUNDS rounds (default 8; 0 skips it) and the medians of their
 * wall and process CPU times are printed: on a shared machine whose load
 * comes and goes, these interleaved figures are the ones to compare.
 *
 * E2E_BENCH_INSTANCES (default 256) and E2E_BENCH_KIB (default 512) set the
 * study; E2E_BENCH_SERVER_CHUNK_KIB (default 1024) the fake server's writes.
 *
 * @module
 */

import process from "node:process";
import { buildRetrieveRequest, type InstanceReference } from "../mod.ts";
import { Rad69Client } from "../mod.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";

const MIB = 1 << 20;

/** What the main thread asks the worker. */
interface StartRequest {
  instances: number;
  pixelBytes: number;
  serverChunk: number;
}

/** What the worker answers. */
interface Started {
  url: string;
  refs: InstanceReference[];
  bytes: number;
}

/** Starts a fake server holding a synthetic study of one series. */
async function startServer(request: StartRequest): Promise<
  { server: FakeRad69Server; started: Started }
> {
  const study = syntheticStudy({
    series: 1,
    instancesPerSeries: request.instances,
    pixelBytes: request.pixelBytes,
  });
  const server = await FakeRad69Server.start({
    instances: study,
    plan: { chunkSize: request.serverChunk },
  });
  return {
    server,
    started: {
      url: server.url,
      refs: study.map(({ studyUid, seriesUid, instanceUid }) => ({
        studyUid,
        seriesUid,
        instanceUid,
      })),
      bytes: study.reduce((n, i) => n + i.bytes.length, 0),
    },
  };
}

const scope = globalThis as unknown as {
  WorkerGlobalScope?: new () => unknown;
  onmessage: ((event: MessageEvent<StartRequest>) => void) | null;
  postMessage(message: Started): void;
};
const inWorker = scope.WorkerGlobalScope !== undefined &&
  globalThis instanceof scope.WorkerGlobalScope;

if (inWorker) {
  scope.onmessage = async (event) => {
    const { started } = await startServer(event.data);
    scope.postMessage(started);
  };
} else {
  await main();
}

function env(name: string, fallback: number): number {
  try {
    const value = Deno.env.get(name);
    return value ? Number(value) : fallback;
  } catch {
    return fallback; // No --allow-env.
  }
}

function serverMode(): string {
  try {
    return Deno.env.get("E2E_BENCH_SERVER") ?? "worker";
  } catch {
    return "worker";
  }
}

async function main(): Promise<void> {
  const request: StartRequest = {
    instances: env("E2E_BENCH_INSTANCES", 256),
    pixelBytes: env("E2E_BENCH_KIB", 512) * 1024,
    serverChunk: env("E2E_BENCH_SERVER_CHUNK_KIB", 1024) * 1024,
  };
  const mode = serverMode();
  let started: Started;
  if (mode === "main") {
    started = (await startServer(request)).started;
  } else {
    const worker = new Worker(import.meta.url, { type: "module" });
    started = await new Promise<Started>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<Started>) => resolve(event.data);
      worker.onerror = (event) => reject(event.error ?? event.message);
      worker.postMessage(request);
    });
  }
  const { url, refs } = started;
  const requestBytes = buildRetrieveRequest(refs, { url });

  /** POSTs the request the client would send. */
  const post = (): Promise<Response> =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": requestBytes.contentType },
      body: requestBytes.body as Uint8Array<ArrayBuffer>,
    });

  /** Reads the answer with a BYOB reader; returns [bytes, largest read]. */
  const drainByob = async (): Promise<[number, number]> => {
    const response = await post();
    const reader = response.body!.getReader({ mode: "byob" });
    let buffer = new ArrayBuffer(MIB);
    let total = 0;
    let largest = 0;
    for (;;) {
      const { done, value } = await reader.read(new Uint8Array(buffer));
      if (done) break;
      total += value.length;
      if (value.length > largest) largest = value.length;
      buffer = value.buffer as ArrayBuffer;
    }
    return [total, largest];
  };

  /** Reads the answer with the default reader; returns [bytes, largest]. */
  const drainDefault = async (): Promise<[number, number]> => {
    const response = await post();
    let total = 0;
    let largest = 0;
    for await (const chunk of response.body!) {
      total += chunk.length;
      if (chunk.length > largest) largest = chunk.length;
    }
    return [total, largest];
  };

  const clients = {
    wasm: new Rad69Client({ url, engine: "wasm", logger: {} }),
    ts: new Rad69Client({ url, engine: "ts", logger: {} }),
  };
  const datasets = async (engine: "wasm" | "ts"): Promise<number> => {
    let count = 0;
    let bytes = 0;
    for await (const instance of clients[engine].datasets(refs)) {
      count++;
      bytes += instance.bytes.length;
    }
    if (count !== refs.length || bytes !== started.bytes) {
      throw new Error(
        `datasets() (${engine}) delivered ${count} instances of ${bytes} bytes: expected ${refs.length} of ${started.bytes}`,
      );
    }
    return bytes;
  };

  // Check once, and print what the readers hand out.
  const [answer, byobLargest] = await drainByob();
  const [answer2, defaultLargest] = await drainDefault();
  if (answer !== answer2) {
    throw new Error(`Answers differ in size: ${answer} vs ${answer2}`);
  }
  await datasets("wasm");
  await datasets("ts");
  const group = `4: end to end, ${refs.length} × ${
    request.pixelBytes / 1024
  } KiB instances, ${(answer / MIB).toFixed(1)} MiB answer, server on ${
    mode === "main" ? "the main thread" : "a worker"
  }`;
  // deno-lint-ignore no-console
  console.log(
    `${group}: largest read ${byobLargest} bytes (BYOB, 1 MiB buffer), ${defaultLargest} bytes (default reader)`,
  );

  const contenders: [string, () => Promise<unknown>][] = [
    ["raw drain: BYOB reader, 1 MiB buffer", drainByob],
    ["raw drain: default reader", drainDefault],
    ["datasets(), wasm engine", () => datasets("wasm")],
    ["datasets(), ts engine", () => datasets("ts")],
  ];
  const rounds = env("E2E_BENCH_ROUNDS", 8);
  if (rounds > 0) await interleaved(group, contenders, rounds);
  for (const [i, [name, fn]] of contenders.entries()) {
    Deno.bench({
      name,
      group,
      baseline: i === 0,
      n: 10,
      warmup: 2,
      async fn(): Promise<void> {
        await fn();
      },
    });
  }
}

/**
 * Runs the contenders round-robin (a different one first each round) and
 * prints the median wall time and process CPU time (all threads: client,
 * server worker, HTTP I/O) of each. Interleaving makes the comparison robust
 * to load that comes and goes on a shared machine, which the sequential
 * `Deno.bench` runs are not; CPU time shows the client's own cost, since the
 * server's work is the same for every contender.
 */
async function interleaved(
  group: string,
  contenders: readonly [string, () => Promise<unknown>][],
  rounds: number,
): Promise<void> {
  const wall: number[][] = contenders.map(() => []);
  const cpu: number[][] = contenders.map(() => []);
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (r + k) % contenders.length;
      const c0 = cpuMs();
      const t0 = performance.now();
      await contenders[i]![1]();
      wall[i]!.push(performance.now() - t0);
      cpu[i]!.push(cpuMs() - c0);
    }
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  };
  const base = median(wall[0]!);
  const lines = contenders.map(([name], i) => {
    const w = median(wall[i]!);
    return `  ${name.padEnd(40)} wall ${w.toFixed(1).padStart(6)} ms (${
      (base / w).toFixed(2)
    }× the BYOB drain), CPU ${median(cpu[i]!).toFixed(1).padStart(6)} ms`;
  });
  // deno-lint-ignore no-console
  console.log(
    `${group}: medians of ${rounds} interleaved rounds\n${lines.join("\n")}`,
  );
}
