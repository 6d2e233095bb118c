// Reading a command line's options as getopt_long(3) does, for the pidguard command. Pure.
//
// node:util.parseArgs cannot stop at the first operand (getopt's leading `+`, which flock(1)
// uses so that everything after the PID file is the command's), and it takes an option's value
// only when it does not start with '-' (`-w -1` is an error of three lines, not the value
// '-1'). getopt's rules are few, so they are written out here rather than borrowed.

export interface OptionSpec {
  /** The name the command's parser reads the option by. */
  key: string;
  /** One-letter forms, without the '-'. */
  short?: readonly string[];
  /** Long forms, without the '--'. */
  long: readonly string[];
  /** Whether it takes a value (`-w 5`, `-w5`, `--wait 5`, `--wait=5`). */
  value: boolean;
}

/** One option as given: its key, its value (null for a flag) and how it was spelt, for messages. */
export interface Given {
  key: string;
  value: string | null;
  spelt: string;
}

export interface Parsed {
  /** The options in the order given. */
  options: Given[];
  /** The operands. With `stopAtOperand`, the first operand and everything after it, untouched. */
  operands: string[];
}

/** A mistake in the options: `message` is one line, without the command's name. */
export class GetoptError extends Error {
  override name = 'GetoptError';
}

function byShort(specs: readonly OptionSpec[], letter: string): OptionSpec | undefined {
  return specs.find((spec) => spec.short?.includes(letter) === true);
}

function byLong(specs: readonly OptionSpec[], name: string): OptionSpec | undefined {
  return specs.find((spec) => spec.long.includes(name));
}

/**
 * Reads `args` as getopt_long does: short options may be grouped (`-nx`) and take their value
 * attached or as the next argument, whatever it looks like (`-w -1` gives '-1'); long ones take
 * `--name=value` or `--name value`; `--` ends the options; `-` alone is an operand. With
 * `stopAtOperand` (getopt's `+`), the options end at the first operand; otherwise operands and
 * options may be mixed (GNU getopt's default). Long names are matched whole: no abbreviations.
 */
export function getopt(args: readonly string[], specs: readonly OptionSpec[], stopAtOperand: boolean): Parsed {
  const options: Given[] = [];
  const operands: string[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] ?? '';
    if (arg === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const equals = arg.indexOf('=');
      const name = equals === -1 ? arg.slice(2) : arg.slice(2, equals);
      const spec = byLong(specs, name);
      if (spec === undefined) throw new GetoptError(`unknown option '--${name}'`);
      if (!spec.value) {
        if (equals !== -1) throw new GetoptError(`option '--${name}' takes no value`);
        options.push({ key: spec.key, value: null, spelt: `--${name}` });
        continue;
      }
      if (equals !== -1) {
        options.push({ key: spec.key, value: arg.slice(equals + 1), spelt: `--${name}` });
        continue;
      }
      i += 1;
      if (i >= args.length) throw new GetoptError(`option '--${name}' needs a value`);
      options.push({ key: spec.key, value: args[i] ?? '', spelt: `--${name}` });
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (let at = 1; at < arg.length; at += 1) {
        const letter = arg.charAt(at);
        const spec = byShort(specs, letter);
        if (spec === undefined) throw new GetoptError(`unknown option '-${letter}'`);
        if (!spec.value) {
          options.push({ key: spec.key, value: null, spelt: `-${letter}` });
          continue;
        }
        const attached = arg.slice(at + 1);
        if (attached !== '') {
          options.push({ key: spec.key, value: attached, spelt: `-${letter}` });
        } else {
          i += 1;
          if (i >= args.length) throw new GetoptError(`option '-${letter}' needs a value`);
          options.push({ key: spec.key, value: args[i] ?? '', spelt: `-${letter}` });
        }
        break;
      }
      continue;
    }
    if (stopAtOperand) {
      operands.push(...args.slice(i));
      break;
    }
    operands.push(arg);
  }
  return { options, operands };
}

/** The value of the last `key` given, or undefined. */
export function lastValue(parsed: Parsed, key: string): Given | undefined {
  for (let i = parsed.options.length - 1; i >= 0; i -= 1) {
    const option = parsed.options[i];
    if (option?.key === key) return option;
  }
  return undefined;
}

/** Whether `key` was given at all. */
export function given(parsed: Parsed, key: string): boolean {
  return parsed.options.some((option) => option.key === key);
}
