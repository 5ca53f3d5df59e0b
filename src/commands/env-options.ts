// Flags that also read `ZKVAULT_<FLAG>` from the environment (the command line wins), as the CLI
// contract requires of every flag, and the reading of yes/no variables.
import { Option, type Command } from 'commander';
import { UsageError } from '../errors.js';

const booleanEnv = new WeakMap<Option, string>();

/**
 * An option whose value may also come from `ZKVAULT_<FLAG>`. A yes/no flag's variable is read by
 * {@link applyBooleanEnv} (commander would switch it on for any value, "false" and "0" included).
 */
export function envOption(flags: string, description: string): Option {
  const opt = new Option(flags, description);
  const long = opt.long?.replace(/^--/, '');
  if (!long) return opt;
  const name = 'ZKVAULT_' + long.toUpperCase().replace(/-/g, '_');
  if (opt.required || opt.optional) return opt.env(name);
  booleanEnv.set(opt, name);
  opt.description = `${description} (env: ${name}=1)`;
  return opt;
}

const TRUE_WORDS = /^(1|true|yes|on)$/i;
const FALSE_WORDS = /^(0|false|no|off|)$/i;

/** Sets the boolean flags not given on the command line from their ZKVAULT_ variables. */
export function applyBooleanEnv(cmd: Command): void {
  for (const opt of cmd.options) {
    const name = booleanEnv.get(opt);
    const raw = name === undefined ? undefined : process.env[name];
    if (raw === undefined) continue;
    const key = opt.attributeName();
    if (cmd.getOptionValueSource(key) === 'cli') continue;
    const on = TRUE_WORDS.test(raw.trim()) ? true : FALSE_WORDS.test(raw.trim()) ? false : undefined;
    if (on === undefined) {
      throw new UsageError(`${name}=${JSON.stringify(raw)} is not a yes/no value`, {
        hint: `set ${name} to 1 or 0 (true/false, yes/no, on/off), or unset it`,
      });
    }
    // A --no-… flag switched on means its value is false; switched off, every flag keeps its default.
    if (on) cmd.setOptionValueWithSource(key, !opt.negate, 'env');
  }
}

/** Adds the options every command takes. */
export function addGlobalOptions(cmd: Command): Command {
  return cmd
    .addOption(envOption('--json', 'print the result as one JSON document on stdout'))
    .addOption(envOption('--quiet', 'print only the result and errors'));
}

/** An option's value as text (commander gives strings, booleans or lists). */
export function optionText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** A repeatable option's parser; the environment form may hold several entries, one per line. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split('\n').filter((v) => v.length > 0)];
}
