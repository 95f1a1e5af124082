/**
 * A small table-driven command-line tokenizer: every flag is one row of a
 * table ({@linkcode CliFlag}), and an unknown flag or a typo is reported
 * with the closest known one ({@linkcode closestName}).
 *
 * @module
 */

import { closestName } from "../suggest.ts";

/** One command-line flag. */
export interface CliFlag {
  /** The long name, without `--` (e.g. `out`). */
  readonly name: string;
  /** The one-letter short name, without `-` (e.g. `o`). */
  readonly short?: string;
  /** A placeholder for its value (e.g. `DIR`); absent for a switch. */
  readonly value?: string;
  /** The flag may be given several times. */
  readonly multiple?: boolean;
}

/** What {@linkcode tokenizeArgs} found. */
export interface TokenizedArgs {
  /** Values per long name: `true` for a switch, else every value given. */
  readonly values: ReadonlyMap<string, true | readonly string[]>;
  /** Arguments that are not flags, in order. */
  readonly positionals: readonly string[];
}

/** Tells whether an argument is a negative number (a value, not a flag). */
function isNegativeNumber(arg: string): boolean {
  return /^-\d/.test(arg) || /^-\.\d/.test(arg);
}

/**
 * Splits arguments into flags and positionals by a table of flags. `--name
 * VALUE`, `--name=VALUE`, `-n VALUE` and `-nVALUE` give a value; `--` ends
 * the flags.
 *
 * @param args The arguments.
 * @param flags The known flags.
 * @param program The program name, for messages.
 * @returns The values and the positionals.
 * @throws {TypeError} For an unknown flag (naming the closest known one), a
 * missing value, a value given to a switch, or a repeated single flag.
 *
 * @example Tokenize a command line
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokenizeArgs } from "./flags.ts";
 *
 * const flags = [{ name: "out", short: "o", value: "DIR" }, { name: "json" }];
 * const { values, positionals } = tokenizeArgs(["-o", "dl", "--json", "x"], flags);
 * assert.deepEqual(values.get("out"), ["dl"]);
 * assert.equal(values.get("json"), true);
 * assert.deepEqual(positionals, ["x"]);
 * assert.throws(() => tokenizeArgs(["--jsn"], flags), /did you mean --json/);
 * ```
 */
export function tokenizeArgs(
  args: readonly string[],
  flags: readonly CliFlag[],
  program = "rad69",
): TokenizedArgs {
  const byName = new Map(flags.map((f) => [f.name, f]));
  const byShort = new Map(
    flags.filter((f) => f.short).map((f) => [f.short!, f]),
  );
  const values = new Map<string, true | string[]>();
  const positionals: string[] = [];
  const unknown = (typed: string): never => {
    const bare = typed.replace(/^-+/, "");
    const suggestion = closestName(bare, byName.keys());
    throw new TypeError(
      `Unknown option "${typed}"${
        suggestion ? `: did you mean --${suggestion}?` : ""
      } (see "${program} --help" for the list)`,
    );
  };
  const set = (flag: CliFlag, typed: string, value: string | undefined) => {
    if (flag.value === undefined) {
      if (value !== undefined) {
        throw new TypeError(
          `Invalid option ${typed}: it takes no value, got "${value}"`,
        );
      }
      values.set(flag.name, true);
      return;
    }
    if (value === undefined) {
      throw new TypeError(
        `Missing value for option ${typed}: expected ${flag.value}`,
      );
    }
    const list = values.get(flag.name);
    if (Array.isArray(list)) {
      if (!flag.multiple) {
        throw new TypeError(
          `Option ${typed} was given twice ("${
            list[0]
          }" and "${value}"): give it once`,
        );
      }
      list.push(value);
    } else {
      values.set(flag.name, [value]);
    }
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-" || isNegativeNumber(arg)) {
      positionals.push(arg);
      continue;
    }
    let flag: CliFlag | undefined;
    let typed: string;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      typed = eq < 0 ? arg : arg.slice(0, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
      flag = byName.get(typed.slice(2));
    } else {
      typed = arg.slice(0, 2);
      flag = byShort.get(arg[1]!);
      const rest = arg.slice(2).replace(/^=/, "");
      inline = rest === "" ? undefined : rest;
    }
    if (!flag) unknown(typed);
    if (!flag) continue;
    if (flag.value !== undefined && inline === undefined) {
      const next = args[i + 1];
      if (next === undefined) {
        throw new TypeError(
          `Missing value for option ${typed}: expected ${flag.value}`,
        );
      }
      const looksLikeFlag = next.startsWith("-") && next !== "-" &&
        !isNegativeNumber(next);
      if (looksLikeFlag) {
        throw new TypeError(
          `Missing value for option ${typed}: expected ${flag.value}, got the option "${next}"`,
        );
      }
      inline = next;
      i++;
    }
    set(flag, typed, inline);
  }
  return { values, positionals };
}
