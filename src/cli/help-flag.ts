// `-h` and `--help` mean the same on every command and subcommand: print that command's
// usage, do nothing else, exit 0. Checked before any parsing, so a help request next to a
// mistake (`concord cluster add --help --bogus`) still gets the help, and never runs it.

/** Whether argv asks for help: `-h` or `--help` before any `--` (after it, they are data). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === "--") return false;
    if (arg === "-h" || arg === "--help") return true;
  }
  return false;
}

/** argv with `-h` spelled `--help` (before any `--`), for parsers that only know the long form. */
export function helpAsLongFlag(argv: readonly string[]): string[] {
  const end = argv.indexOf("--");
  return argv.map((arg, i) => (arg === "-h" && (end === -1 || i < end) ? "--help" : arg));
}
