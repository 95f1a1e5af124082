/**
 * Where fetched KOS manifests are kept: `<dir>/manifests/<documentUniqueId>.dcm`,
 * written to a temporary file and renamed, so a manifest on disk is always
 * whole. `resume` reuses one that still reads as the same KOS.
 *
 * @module
 */

import { join } from "node:path";
import { InvalidUidError, Rad69Error } from "../errors.ts";
import { readKos } from "./kos.ts";

/** The folder, under the output folder, that holds the manifests. */
export const MANIFEST_FOLDER = "manifests";

/** Checks a document uniqueId is usable as a file name. */
function fileName(documentUniqueId: string): string {
  if (
    !/^[0-9][0-9.]*$/.test(documentUniqueId) || documentUniqueId.length > 64
  ) {
    throw new InvalidUidError(
      documentUniqueId,
      "DocumentEntry.uniqueId",
      "is not a safe file name",
    );
  }
  return `${documentUniqueId}.dcm`;
}

/**
 * The path a manifest is saved at.
 *
 * @param dir The output folder.
 * @param documentUniqueId The manifest's uniqueId.
 * @returns `<dir>/manifests/<documentUniqueId>.dcm`.
 */
export function manifestPath(dir: string, documentUniqueId: string): string {
  return join(dir, MANIFEST_FOLDER, fileName(documentUniqueId));
}

/** How a manifest that was not saved is named in messages. */
export function fetchedManifestPath(documentUniqueId: string): string {
  return `ITI-43 document ${documentUniqueId}`;
}

/**
 * Saves a manifest atomically.
 *
 * @returns The path written.
 */
export async function saveManifest(
  dir: string,
  documentUniqueId: string,
  bytes: Uint8Array,
): Promise<string> {
  const path = manifestPath(dir, documentUniqueId);
  await Deno.mkdir(join(dir, MANIFEST_FOLDER), { recursive: true });
  const temp = `${path}.${crypto.randomUUID().slice(0, 8)}.part`;
  try {
    await Deno.writeFile(temp, bytes);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw new Rad69Error(
      `Cannot save manifest ${documentUniqueId} to ${path}: ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
  return path;
}

/**
 * A manifest saved by an earlier run, when it is still there and reads as
 * the KOS with this SOP Instance UID.
 */
export async function savedManifest(
  dir: string,
  documentUniqueId: string,
): Promise<{ bytes: Uint8Array; file: string } | undefined> {
  const path = manifestPath(dir, documentUniqueId);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  try {
    return readKos(bytes, { file: path }).sopInstanceUid === documentUniqueId
      ? { bytes, file: path }
      : undefined;
  } catch (error) {
    if (error instanceof Rad69Error) return undefined;
    throw error;
  }
}
