/** How one setting is declared: its key, variable, flag, schema and the words that document it. */
import type { z } from "zod";

export interface SettingSpec {
  /** Dotted key in the config file (`data.sessions`). */
  key: string;
  env: string;
  /** The CLI flag, where one exists. */
  flag?: string;
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
