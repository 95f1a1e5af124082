/**
 * The CLI's one-line progress bar (instances, bytes, rate, ETA), redrawn
 * with `\r` on a terminal.
 *
 * @module
 */

import type { DownloadProgress } from "../download.ts";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/**
 * Formats a byte count with binary units: `512 B`, `1.5 MiB`.
 *
 * @param bytes The count.
 * @returns The text.
 */
export function formatBytes(bytes: number): string {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0
    ? `${Math.round(value)} B`
    : `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${UNITS[unit]}`;
}

/**
 * Formats a duration as `m:ss` or `h:mm:ss`.
 *
 * @param ms Milliseconds.
 * @returns The text.
 */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * Renders one progress line, at most `columns` characters wide.
 *
 * @param p The progress.
 * @param columns The terminal width.
 * @returns The line (no control characters).
 */
export function renderProgress(p: DownloadProgress, columns: number): string {
  const seconds = p.elapsedMs / 1000;
  const rate = seconds > 0 ? p.bytesReceived / seconds : 0;
  const known = p.bytesWritten + p.bytesSkipped;
  let eta = "";
  if (p.instancesDone < p.instancesTotal && rate > 0) {
    const remaining = p.bytesEstimatedTotal !== undefined
      ? Math.max(0, p.bytesEstimatedTotal - known)
      : undefined;
    if (remaining !== undefined) {
      eta = `ETA ${formatDuration((remaining / rate) * 1000)}`;
    }
  }
  const count = `${p.instancesDone}/${p.instancesTotal}`;
  const tail = [
    formatBytes(known),
    `${formatBytes(rate)}/s`,
    eta,
    p.failed > 0 ? `${p.failed} failed` : "",
  ].filter((s) => s !== "").join("  ");
  const room = columns - count.length - tail.length - 6;
  const width = Math.min(30, room);
  if (width < 5) return `${count}  ${tail}`.slice(0, Math.max(0, columns - 1));
  const ratio = p.instancesTotal === 0 ? 1 : p.instancesDone / p.instancesTotal;
  const filled = Math.round(ratio * width);
  const bar = "#".repeat(filled) + "-".repeat(width - filled);
  return `${count} [${bar}]  ${tail}`;
}

/** Options of {@linkcode ProgressBar}. */
export interface ProgressBarOptions {
  /** Writes text to the terminal (stderr). */
  write: (text: string) => void;
  /**
   * The terminal width.
   *
   * @default {() => 80}
   */
  columns?: () => number;
  /**
   * Fewest milliseconds between two redraws.
   *
   * @default {100}
   */
  intervalMs?: number;
}

/**
 * A progress line on a terminal, redrawn at most every `intervalMs` (and on
 * every settled instance's failure and at the end).
 *
 * @example Draw the progress of a download
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "../../mod.ts";
 * import { FakeRad69Server, syntheticStudy } from "../testing/mod.ts";
 * import { ProgressBar } from "./progress_bar.ts";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * const client = new Rad69Client({ url: server.url });
 * const dir = await Deno.makeTempDir();
 * let screen = "";
 * const bar = new ProgressBar({ write: (text) => screen += text });
 * try {
 *   await client.download(study, dir, {
 *     onProgress: (p) => bar.update(p),
 *   });
 *   bar.finish();
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * assert.match(screen, /2\/2 \[#+\]/); // 2 of 2 instances, a full bar
 * assert.ok(screen.endsWith("\n"));
 * ```
 */
export class ProgressBar {
  #write: (text: string) => void;
  #columns: () => number;
  #interval: number;
  #last = -Infinity;
  #shown = false;
  #latest: DownloadProgress | undefined;

  /**
   * Creates the bar; nothing is drawn until the first update.
   *
   * @param options Where to write and how often.
   */
  constructor(options: ProgressBarOptions) {
    this.#write = options.write;
    this.#columns = options.columns ?? (() => 80);
    this.#interval = options.intervalMs ?? 100;
  }

  /**
   * Records progress and redraws when due.
   *
   * @param progress The latest progress.
   */
  update(progress: DownloadProgress): void {
    this.#latest = progress;
    const now = performance.now();
    const due = now - this.#last >= this.#interval ||
      progress.instancesDone === progress.instancesTotal;
    if (!due) return;
    this.#last = now;
    this.#draw();
  }

  #draw(): void {
    if (!this.#latest) return;
    const columns = Math.max(20, this.#columns());
    this.#write(`\r\x1b[K${renderProgress(this.#latest, columns)}`);
    this.#shown = true;
  }

  /** Erases the line (before other output); the next update redraws it. */
  clear(): void {
    if (!this.#shown) return;
    this.#write("\r\x1b[K");
    this.#shown = false;
    this.#last = -Infinity;
  }

  /** Draws the last state and ends the line. */
  finish(): void {
    if (!this.#latest) return;
    this.#draw();
    this.#write("\n");
    this.#shown = false;
  }
}
