/**
 * Paths given on the command line: resolved against the folder the user's
 * shell is in, and the download folder checked before any request.
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";

/**
 * The folder relative paths of the command line mean: `INIT_CWD` when set
 * (`deno task` runs a task in the folder of `deno.json` and sets `INIT_CWD`
 * to the folder it was started from, as npm does), else the current folder.
 *
 * @returns An absolute folder path.
 */
export function userCwd(): string {
  let init: string | undefined;
  try {
    const state = Deno.permissions.querySync({
      name: "env",
      variable: "INIT_CWD",
    }).state;
    if (state === "granted") init = Deno.env.get("INIT_CWD");
  } catch {
    init = undefined;
  }
  return init !== undefined && init !== "" && isAbsolute(init)
    ? init
    : Deno.cwd();
}

/**
 * Resolves a path given on the command line against {@linkcode userCwd}.
 *
 * @param path The path as typed.
 * @param base The folder it is relative to.
 * @returns The absolute path.
 *
 * @example Resolve against a folder
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveUserPath } from "./paths.ts";
 *
 * assert.equal(resolveUserPath("./list.csv", "/home/me"), "/home/me/list.csv");
 * assert.equal(resolveUserPath("/data/list.csv", "/home/me"), "/data/list.csv");
 * ```
 */
export function resolveUserPath(
  path: string,
  base: string = userCwd(),
): string {
  return resolve(base, path);
}

/** Folders of the operating system Deno guards even with `--allow-write`. */
const SYSTEM_FOLDERS = ["/proc", "/sys", "/dev"];

/**
 * Checks that the download folder is a folder or can be created, and
 * creates it, so that a bad `--out` is a usage error before any request.
 *
 * @param option The option that named it, e.g. `--out`.
 * @param typed The path as typed (for the message).
 * @param path The resolved path.
 * @throws {TypeError} When it is a file, is under a system folder, or cannot
 * be created; the message says which path and why.
 */
export async function prepareOutputFolder(
  option: string,
  typed: string,
  path: string,
): Promise<void> {
  const where = typed === path ? `"${typed}"` : `"${typed}" (${path})`;
  if (
    Deno.build.os !== "windows" &&
    SYSTEM_FOLDERS.some((f) => path === f || path.startsWith(`${f}/`))
  ) {
    throw new TypeError(
      `Invalid option ${option} ${where}: it is inside ${
        SYSTEM_FOLDERS.find((f) => path === f || path.startsWith(`${f}/`))
      }, a system folder, not a place for downloads; choose another folder`,
    );
  }
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new TypeError(
        `Invalid option ${option} ${where}: cannot use it: ${reason(error)}`,
      );
    }
  }
  if (info && !info.isDirectory) {
    throw new TypeError(
      `Invalid option ${option} ${where}: it is a file, not a folder`,
    );
  }
  if (info) return;
  try {
    await Deno.mkdir(path, { recursive: true });
  } catch (error) {
    throw new TypeError(
      `Invalid option ${option} ${where}: cannot create the folder: ${
        reason(error)
      }`,
    );
  }
}

/** Why a file-system call failed, without Deno's permission prompt text. */
function reason(error: unknown): string {
  if (error instanceof Deno.errors.NotCapable) {
    return "Deno does not allow writing there";
  }
  if (error instanceof Deno.errors.AlreadyExists) {
    return "a file is in the way";
  }
  if (error instanceof Deno.errors.NotADirectory) {
    return "a part of the path is a file";
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return "permission denied by the operating system";
  }
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/ \(os error \d+\)/, "");
}
