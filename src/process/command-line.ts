// Showing an argument vector as one line an operator can read and paste into a shell. Pure.

// Characters that need no quoting in any POSIX shell.
const PLAIN = /^[\w@%+=:,./-]+$/;

function quote(arg: string): string {
  if (PLAIN.test(arg)) return arg;
  return `'${arg.replaceAll("'", "'\\''")}'`;
}

export function formatCommandLine(args: readonly string[]): string {
  return args.map(quote).join(' ');
}
