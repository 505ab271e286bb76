/**
 * The subcommands of `chainrule`, in the order `--help` lists them. To add one, write a file in
 * this folder exporting a `CliCommand` and add it to `commands` below.
 */
import type { Command } from "commander";
import type { CliIO } from "../common.js";
import { trainCommand } from "./train.js";
import { evalCommand } from "./eval.js";
import { gradcheckCommand } from "./gradcheck.js";
import { explainCommand } from "./explain.js";
import { graphCommand } from "./graph.js";
import { exportCommand } from "./export.js";
import { predictCommand } from "./predict.js";

/** One subcommand: `register` adds it to the program (program.command(name)...action(...)). */
export interface CliCommand {
  /** The subcommand's name, as typed: "train". */
  name: string;
  /**
   * Adds the subcommand to `program`. Create it with `program.command(name)` so that it inherits
   * the program's settings (output, error handling). Write through `io`, never console.log, and
   * throw `CliError`/`UsageError` (../common.js) instead of calling process.exit.
   */
  register(program: Command, io: CliIO): void;
}

export const commands: CliCommand[] = [trainCommand, evalCommand, predictCommand, exportCommand, gradcheckCommand, explainCommand, graphCommand];
