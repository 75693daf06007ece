/**
 * How one setting is declared: its key, variable, flag, schema, default and the words that
 * document it.
 */
import type { z } from "zod";

/** What a setting holds: every setting is one scalar, whatever its source. */
export type SettingValue = string | number | boolean;

export interface SettingSpec {
  /** Dotted key in the config file (`data.sessions`). */
  key: string;
  env: string;
  /** The CLI flag, where one exists. */
  flag?: string;
  /** The value when no file, variable or flag sets it; absent: unset (optional or required). */
  default?: SettingValue;
  schema: z.ZodType;
  /** Shown in errors: what values are allowed. */
  allowed: string;
  description: string;
  /** Values from env and flags arrive as text; numbers are converted before validation. */
  numeric?: boolean;
  /**
   * Names infrastructure or carries credentials (ARNs, bucket and image URIs with account ids,
   * URLs that may hold a signature): the model card, a public pull-request comment, says only
   * whether it is set.
   */
  sensitive?: boolean;
}

/**
 * The defaults of the settings in one section (`compute.batch.`), keyed by the rest of their
 * key: the module's own settings object, `T`, which the caller names. The specs are the one
 * place a default is written; test/unit/config.test.ts checks that they fill `T`.
 */
export function sectionDefaults<T>(specs: readonly SettingSpec[], section: string): T {
  const defaults: Record<string, SettingValue> = {};
  for (const spec of specs) {
    if (spec.key.startsWith(section) && spec.default !== undefined) {
      defaults[spec.key.slice(section.length)] = spec.default;
    }
  }
  return defaults as T;
}
