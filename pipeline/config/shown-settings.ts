/**
 * Settings as they may be shown outside the machine that ran: in a stage record (which a shared
 * S3 store keeps for everyone) and on the model card (a public pull-request comment). A setting
 * marked `sensitive` (an ARN, a bucket, a URL that may carry a signature) says only that it is
 * set, never its value.
 */
import { getPath, type Config } from "./config.ts";
import type { SettingSpec } from "./setting-spec.ts";
import { SETTINGS } from "./settings.ts";

/** A setting's value as shown: a scalar, or "(set)" for a sensitive one. */
export type ShownValue = string | number | boolean | null;

/** What may be shown of a setting's value; undefined when it is not set. */
export function shownValue(spec: SettingSpec, value: unknown): ShownValue | undefined {
  if (value === undefined || value === null) return undefined;
  if (spec.sensitive) return "(set)";
  return typeof value === "object" ? JSON.stringify(value) : (value as ShownValue);
}

/** Every set setting of the config by key, sensitive ones redacted: what a run ran with. */
export function shownSettings(config: Config): Record<string, ShownValue> {
  const shown: Record<string, ShownValue> = {};
  for (const spec of SETTINGS) {
    const value = shownValue(spec, getPath(config, spec.key));
    if (value !== undefined) shown[spec.key] = value;
  }
  return shown;
}
