/**
 * "Did you mean …?": the closest known name to a misspelt one, for the
 * messages of the CLI (flags) and of keyword access (DICOM keywords).
 *
 * @module
 */

/**
 * The edit distance between two strings (Levenshtein).
 *
 * @param a One string.
 * @param b The other.
 * @returns The number of single-character insertions, deletions and
 * substitutions that turn `a` into `b`.
 */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The candidate closest to a misspelt name, when it is close enough to be
 * the one meant (an edit distance of at most a third of its length, and at
 * least 2), else `undefined`.
 *
 * @param name What was typed.
 * @param candidates The known names.
 * @returns The closest known name, or `undefined`.
 *
 * @example Suggest a flag for a typo
 * ```ts
 * import assert from "node:assert/strict";
 * import { closestName } from "./suggest.ts";
 *
 * assert.equal(closestName("concurency", ["concurrency", "out"]), "concurrency");
 * assert.equal(closestName("zzz", ["concurrency", "out"]), undefined);
 * ```
 */
export function closestName(
  name: string,
  candidates: Iterable<string>,
): string | undefined {
  const wanted = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const c = candidate.toLowerCase();
    // A name the typed one begins is a good guess, a close spelling a better one.
    const distance = Math.min(
      editDistance(wanted, c),
      c.startsWith(wanted) && wanted.length >= 3 ? 1.5 : Infinity,
    );
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(2, Math.floor(wanted.length / 3));
  return bestDistance <= limit ? best : undefined;
}
