/**
 * Resolves the AWS Batch training path's settings (pipeline/config/batch-settings.ts declares
 * them): fills the defaults and the region, and checks every field against AWS Batch's rules
 * before the first AWS call, so a typo fails at start-up with the setting's name instead of as a
 * ClientException after the job definition was registered.
 */
import { InputError } from "../errors.ts";
import {
  BATCH_SETTING_SPECS,
  imageProblem,
  jobDefinitionNameProblem,
  LOG_GROUP,
  parseBatchSecrets,
  queueProblem,
  REGION,
  roleArnProblem,
  secretsProblem,
  type BatchSettings,
} from "../config/batch-settings.ts";
import { sectionDefaults } from "../config/setting-spec.ts";

/** Fallback region when neither the setting nor AWS_REGION / AWS_DEFAULT_REGION is set. */
export const FALLBACK_REGION = "us-east-1";

/** What the user must name (queue, image, roles, secrets) has no default; the rest does. */
type BatchDefaults = Omit<
  BatchSettings,
  "queue" | "image" | "region" | "jobRoleArn" | "secrets" | "executionRoleArn"
>;
const DEFAULTS = sectionDefaults<BatchDefaults>(BATCH_SETTING_SPECS, "compute.batch.");

const SPEC_BY_FIELD = new Map(
  BATCH_SETTING_SPECS.map((spec) => [spec.key.slice("compute.batch.".length), spec]),
);

function settingError(field: keyof BatchSettings, message: string): InputError {
  const spec = SPEC_BY_FIELD.get(field);
  const key = spec?.key ?? `compute.batch.${field}`;
  const where = spec ? `${key} in the config file, ${spec.env} or ${spec.flag}` : key;
  return new InputError(message, { field: key }, `Set ${where}.`);
}

/**
 * Fills defaults and checks every field. `values` are the `compute.batch.*` settings as the
 * config loader produced them; queue and image have no default.
 */
export function resolveBatchSettings(
  values: Partial<BatchSettings>,
  env: NodeJS.ProcessEnv = process.env,
): BatchSettings {
  const region =
    values.region ??
    nonEmpty(env.AWS_REGION) ??
    nonEmpty(env.AWS_DEFAULT_REGION) ??
    FALLBACK_REGION;
  if (values.queue === undefined || values.queue === "") {
    throw settingError("queue", "no AWS Batch job queue is set: --compute batch needs one");
  }
  if (values.image === undefined || values.image === "") {
    throw settingError("image", "no train image is set: --compute batch needs one");
  }
  const settings: BatchSettings = {
    ...DEFAULTS,
    ...withoutUndefined(values),
    queue: values.queue,
    image: values.image,
    region,
  };
  validateBatchSettings(settings);
  return settings;
}

/** Throws an InputError naming the first field that breaks AWS Batch's rules. */
export function validateBatchSettings(settings: BatchSettings): void {
  const nameChecks: [keyof BatchSettings, string | undefined, (v: string) => string | undefined][] =
    [
      ["queue", settings.queue, queueProblem],
      ["jobDefinition", settings.jobDefinition, jobDefinitionNameProblem],
      ["image", settings.image, imageProblem],
      ["jobRoleArn", settings.jobRoleArn, roleArnProblem],
      ["executionRoleArn", settings.executionRoleArn, roleArnProblem],
      ["secrets", settings.secrets, secretsProblem],
    ];
  for (const [field, value, problem] of nameChecks) {
    if (value === undefined) continue;
    const why = problem(value);
    if (why !== undefined) throw settingError(field, `invalid ${field} "${value}": ${why}`);
  }
  if (!REGION.test(settings.region)) {
    throw settingError("region", `invalid region "${settings.region}": expected e.g. eu-west-1`);
  }
  if (!LOG_GROUP.test(settings.logGroup)) {
    throw settingError(
      "logGroup",
      `invalid log group "${settings.logGroup}": 1-512 letters, digits and . _ - / #`,
    );
  }
  const ranges: [keyof BatchSettings, number, number][] = [
    ["vcpus", 1, 256],
    ["memoryMiB", 512, 4_194_304],
    ["gpus", 0, 16],
    ["timeoutSeconds", 60, 1_209_600],
    ["retryAttempts", 1, 10],
    ["runnableWarnSeconds", 1, 1_209_600],
    ["runnableTimeoutSeconds", 1, 1_209_600],
  ];
  for (const [field, min, max] of ranges) {
    const value = settings[field];
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw settingError(
        field,
        `invalid ${field} ${String(value)}: expected an integer from ${min} to ${max}`,
      );
    }
  }
  const secrets = settings.secrets === undefined ? {} : parseBatchSecrets(settings.secrets);
  if (Object.keys(secrets).length > 0 && settings.executionRoleArn === undefined) {
    throw settingError(
      "executionRoleArn",
      `compute.batch.secrets names ${Object.keys(secrets).join(", ")}, but no execution role is set: ECS needs one to read them`,
    );
  }
  if (settings.runnableWarnSeconds >= settings.runnableTimeoutSeconds) {
    throw settingError(
      "runnableWarnSeconds",
      `runnableWarnSeconds (${settings.runnableWarnSeconds}) must be below runnableTimeoutSeconds (${settings.runnableTimeoutSeconds}): the warning would never show`,
    );
  }
}

function withoutUndefined<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(values).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
