/**
 * Permission checks and hints for the CLI: which `--allow-*` flag is
 * missing.
 *
 * @module
 */

/** The flag that grants a permission, e.g. `--allow-net=pacs:443`. */
function flagOf(descriptor: Deno.PermissionDescriptor): string {
  switch (descriptor.name) {
    case "net":
      return descriptor.host ? `--allow-net=${descriptor.host}` : "--allow-net";
    case "env":
      return descriptor.variable
        ? `--allow-env=${descriptor.variable}`
        : "--allow-env";
    default:
      return `--allow-${descriptor.name}`;
  }
}

/** What a permission is for, in words. */
function describe(descriptor: Deno.PermissionDescriptor): string {
  switch (descriptor.name) {
    case "net":
      return `network access to "${descriptor.host ?? "the server"}"`;
    case "read":
      return `read access to "${descriptor.path ?? ""}"`;
    case "write":
      return `write access to "${descriptor.path ?? ""}"`;
    case "env":
      return `access to environment variable "${descriptor.variable ?? ""}"`;
    default:
      return `${descriptor.name} access`;
  }
}

/**
 * Checks permissions up front (asking on a terminal when Deno would prompt)
 * and describes each one that is not granted.
 *
 * @param descriptors The permissions the run needs.
 * @returns One hint per missing permission, naming its `--allow-*` flag.
 */
export async function missingPermissions(
  descriptors: readonly Deno.PermissionDescriptor[],
): Promise<string[]> {
  const hints: string[] = [];
  for (const descriptor of descriptors) {
    let status = await Deno.permissions.query(descriptor);
    if (status.state === "prompt") {
      status = await Deno.permissions.request(descriptor);
    }
    if (status.state !== "granted") {
      hints.push(
        `Missing permission: ${describe(descriptor)}; run with ${
          flagOf(descriptor)
        }`,
      );
    }
  }
  return hints;
}

/**
 * A hint for a permission error anywhere in an error's cause chain, naming
 * the `--allow-*` flag to add.
 *
 * @param error Any error.
 * @returns The hint, or `undefined` when it is not a permission error.
 */
export function permissionHint(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 8; depth++) {
    if (current instanceof Deno.errors.NotCapable) {
      const flag = /--allow-[a-z-]+(=[^\s,]+)?/.exec(current.message)?.[0] ??
        (/Requires ([a-z]+) access/.exec(current.message)?.[1]
          ? `--allow-${/Requires ([a-z]+) access/.exec(current.message)![1]}`
          : "the matching --allow-* flag");
      return `Missing permission: ${
        current.message.replace(/\.$/, "")
      }; run with ${flag}`;
    }
    if (current instanceof Deno.errors.PermissionDenied) {
      return `The operating system denied access: ${current.message}`;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
