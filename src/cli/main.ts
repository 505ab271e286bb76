#!/usr/bin/env node
/**
 * The `chainrule` command (package.json "bin"). Subcommands come from the list in
 * ./commands/index.ts; each registers itself on the program. Exit codes: 0 success, 1 failure
 * (an error while running, or a failed check), 2 usage error (a wrong option or argument).
 */
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import { commands } from "./commands/index.js";
import { CliError, USAGE_EXIT_CODE, processIO, type CliIO } from "./common.js";

function packageVersion(): string {
  try {
    // dist/cli/main.js and src/cli/main.ts both sit two levels below package.json.
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/** The program with every registered subcommand; output goes to `io`, errors are thrown (not exited). */
export function createProgram(io: CliIO = processIO()): Command {
  const program = new Command("chainrule")
    .description("Train, evaluate and gradient-check neural networks built on chainrule's computational graph.")
    .version(packageVersion(), "-v, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .helpCommand("help [command]", "show help for a command (or: chainrule <command> --help)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError("(add --help for usage)");
  for (const command of commands) command.register(program, io);
  return program;
}

/**
 * Runs the command line `argv` (the arguments after the program name) and resolves to the exit
 * code: 0 success, 1 failure, 2 usage error. Never calls process.exit.
 * @example await run(["train", "--dataset", "spiral", "--epochs", "3"])
 */
export async function run(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (error) {
    // Commander has already printed its message (unknown option, invalid choice...).
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : USAGE_EXIT_CODE;
    if (error instanceof CliError) {
      io.err(`error: ${error.message}\n`);
      if (error.exitCode === USAGE_EXIT_CODE) io.err("(add --help for usage)\n");
      return error.exitCode;
    }
    io.err(`error: ${error instanceof Error ? `${error.name === "Error" ? "" : `${error.name}: `}${error.message}` : String(error)}\n`);
    if (process.env.CHAINRULE_DEBUG && error instanceof Error && error.stack) io.err(`${error.stack}\n`);
    return 1;
  }
}

/** Whether this module is the process's entry point (run as the bin, directly or through a symlink). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // Output piped into a command that stops reading (`chainrule train | head`): stop quietly.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  process.exitCode = await run(process.argv.slice(2));
}
