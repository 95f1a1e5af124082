/**
 * A fake RAD-69 server off the measured thread, for the download
 * benchmarks: in a Web Worker ({@linkcode startServerWorker}, no extra
 * permission) or in its own process ({@linkcode startServerProcess}, needs
 * --allow-run; then the client's RSS does not include the server).
 *
 * Arguments (both modes):
 *   [--directory DIR | --series N --per-series M --pixel-kib K]
 *   [--latency-ms L] [--bytes-per-second B] [--chunk-kib C]
 *
 * With `--directory`, `DIR/refs.json` lists the instances
 * (`{ "refs": [...], "bytes": n }`) and their files are streamed from disk.
 * As a process, it prints one JSON line `{ "url", "refs", "bytes" }` on
 * stdout once listening and stops when its stdin closes (so it dies with its
 * parent).
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { InstanceReference } from "../src/references.ts";
import {
  FakeRad69Server,
  type FaultPlan,
  syntheticStudy,
} from "../src/testing/mod.ts";

/** What the server reports once listening. */
export interface ServerInfo {
  /** The endpoint. */
  url: string;
  /** Every instance it serves. */
  refs: InstanceReference[];
  /** Total bytes of the instances. */
  bytes: number;
}

/** A running server; dispose it to stop it. */
export interface BenchServer extends AsyncDisposable, ServerInfo {}

/** Starts a fake server from the arguments. */
async function startServer(
  args: string[],
): Promise<{ server: FakeRad69Server; info: ServerInfo }> {
  const { values } = parseArgs({
    args,
    options: {
      directory: { type: "string" },
      series: { type: "string", default: "8" },
      "per-series": { type: "string", default: "8" },
      "pixel-kib": { type: "string", default: "512" },
      "latency-ms": { type: "string", default: "0" },
      "bytes-per-second": { type: "string" },
      "chunk-kib": { type: "string", default: "256" },
    },
  });
  const plan: { -readonly [K in keyof FaultPlan]: FaultPlan[K] } = {
    chunkSize: Number(values["chunk-kib"]) * 1024,
  };
  if (Number(values["latency-ms"]) > 0) {
    plan.latencyMs = Number(values["latency-ms"]);
  }
  if (values["bytes-per-second"]) {
    plan.bytesPerSecond = Number(values["bytes-per-second"]);
  }
  if (values.directory) {
    const server = await FakeRad69Server.start({
      directory: values.directory,
      plan,
    });
    const list = JSON.parse(
      await Deno.readTextFile(`${values.directory}/refs.json`),
    ) as { refs: InstanceReference[]; bytes: number };
    return { server, info: { url: server.url, ...list } };
  }
  const study = syntheticStudy({
    series: Number(values.series),
    instancesPerSeries: Number(values["per-series"]),
    pixelBytes: Number(values["pixel-kib"]) * 1024,
    pixelContent: "random",
  });
  const server = await FakeRad69Server.start({ instances: study, plan });
  return {
    server,
    info: {
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

/**
 * Starts the server in a Web Worker (this module) and waits for its URL.
 *
 * @param args Its arguments (see the module doc).
 * @returns The running server; dispose it to stop the worker.
 */
export function startServerWorker(args: string[]): Promise<BenchServer> {
  const worker = new Worker(import.meta.url, { type: "module" });
  return new Promise<BenchServer>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<ServerInfo>) =>
      resolve({
        ...event.data,
        [Symbol.asyncDispose]() {
          worker.terminate();
          return Promise.resolve();
        },
      });
    worker.onerror = (event) => {
      event.preventDefault();
      worker.terminate();
      reject(event.error ?? new Error(event.message));
    };
    worker.postMessage(args);
  });
}

/**
 * Starts the server in a child process and waits for its URL.
 *
 * @param args Its arguments (see the module doc).
 * @returns The running server; dispose it to stop the process.
 */
export async function startServerProcess(
  args: string[],
): Promise<BenchServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-net=127.0.0.1",
      "--allow-read",
      new URL(import.meta.url).pathname,
      ...args,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) throw new Error("The fake server process ended before listening");
    text += value;
  }
  reader.releaseLock();
  const info = JSON.parse(text.slice(0, text.indexOf("\n"))) as ServerInfo;
  const writer = child.stdin.getWriter();
  return {
    ...info,
    async [Symbol.asyncDispose]() {
      await writer.close().catch(() => {});
      await child.stdout.cancel().catch(() => {});
      await child.status;
    },
  };
}

const scope = globalThis as unknown as {
  WorkerGlobalScope?: new () => unknown;
  onmessage: ((event: MessageEvent<string[]>) => void) | null;
  postMessage(message: ServerInfo): void;
};
const inWorker = scope.WorkerGlobalScope !== undefined &&
  globalThis instanceof scope.WorkerGlobalScope;

if (inWorker) {
  scope.onmessage = async (event) => {
    const { info } = await startServer(event.data);
    scope.postMessage(info);
  };
} else if (import.meta.main) {
  const { server, info } = await startServer(Deno.args);
  await Deno.stdout.write(
    new TextEncoder().encode(`${JSON.stringify(info)}\n`),
  );
  // Serve until the parent closes our stdin (or dies).
  for await (const _ of Deno.stdin.readable) {
    // Nothing is expected on stdin.
  }
  await server.close();
}
