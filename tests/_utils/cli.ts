/**
 * Runs the `rad69` command line in a child Deno, for the robustness tests.
 *
 * @module
 */

/** What a finished CLI run gave. */
export interface CliResult {
  /** The exit status. */
  code: number;
  /** Everything written on stdout. */
  stdout: string;
  /** Everything written on stderr. */
  stderr: string;
}

/** The CLI entry point. */
export const CLI: string = new URL("../../cli.ts", import.meta.url).pathname;
const ROOT = new URL("../..", import.meta.url).pathname;

/** The permissions the CLI needs against a loopback server. */
export const CLI_PERMISSIONS: readonly string[] = [
  "--allow-net=127.0.0.1",
  "--allow-read",
  "--allow-write",
  "--allow-env",
];

/** The `Deno.Command` that runs `cli.ts` with `args`. */
export function cliCommand(
  args: readonly string[],
  env: Record<string, string> = {},
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", ...CLI_PERMISSIONS, CLI, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs `cli.ts` with `args` to its end. */
export async function rad69(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  const { code, stdout, stderr } = await cliCommand(args, env).output();
  const decoder = new TextDecoder();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

/** The `STUDY/SERIES/INSTANCE` argument of an instance. */
export function triplet(
  ref: { studyUid: string; seriesUid: string; instanceUid: string },
): string {
  return `${ref.studyUid}/${ref.seriesUid}/${ref.instanceUid}`;
}
