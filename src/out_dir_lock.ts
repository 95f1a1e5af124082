/**
 * One download at a time per folder: an exclusive OS lock (`flock`) on
 * `<dir>/.rad69/lock`, held while a download runs. The kernel releases it
 * when its holder ends, however it ends (crash, kill -9), so a lock is
 * never stale; the file itself stays and holds the last holder's process
 * id, for the message a second download gets.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { OutDirLockedError } from "./errors.ts";

/** The folder, inside a download folder, of rad69's own files. */
export const STATE_DIR = ".rad69";

/** Folders locked by this process (an OS lock may not exclude its holder). */
const lockedHere = new Set<string>();

/** A held folder lock; disposing releases it. */
export interface OutDirLock extends Disposable {
  /** Releases the lock (once). */
  release(): void;
}

/**
 * Locks a download folder for this download, creating it (and its
 * `.rad69` folder) when missing.
 *
 * @param dir The download folder.
 * @returns The lock; release it (or `using` it) when the download ends.
 * @throws {OutDirLockedError} When another download (in this process or
 * another) holds the folder.
 */
export async function lockOutDir(dir: string): Promise<OutDirLock> {
  const key = resolve(dir);
  const path = join(key, STATE_DIR, "lock");
  const held = (pid: string) =>
    new OutDirLockedError(
      `Another download is writing into "${dir}"${
        pid ? ` (process ${pid})` : ""
      }: wait for it to end, or download into another folder`,
      { dir },
    );
  if (lockedHere.has(key)) throw held(String(Deno.pid));
  await Deno.mkdir(join(key, STATE_DIR), { recursive: true });
  const file = await Deno.open(path, { read: true, write: true, create: true });
  let locked = false;
  try {
    locked = await file.tryLock(true);
    if (!locked) {
      const pid = (await Deno.readTextFile(path).catch(() => "")).trim();
      throw held(/^\d+$/.test(pid) ? pid : "");
    }
    try {
      await file.truncate(0);
      await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
    } catch {
      // Only for the message of a second download (a full disk says so).
    }
  } catch (error) {
    file.close();
    throw error;
  }
  lockedHere.add(key);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    lockedHere.delete(key);
    file.close(); // closing the descriptor releases the lock
  };
  return { release, [Symbol.dispose]: release };
}
