/**
 * The levels a fork climbs, as the README lays them out: embedded (nothing to set) → + S3 run
 * store → + Snowflake → + AWS Batch → + SageMaker. Each level is a list of repository variables and
 * secrets; `pipeline doctor` checks them all at once and, for a level that is half set up, lists
 * every missing or malformed one (roles and images included), not the first it meets.
 *
 * The values are the environment's, or a repository's (`gh variable list --json name,value`,
 * `gh secret list --json name`): secrets are checked by name only, never read.
 */
import { imageProblem, parseBatchSecrets, roleArnProblem } from "./batch-settings.ts";
import { resolveImage } from "../compute/images.ts";
import { parseS3Url } from "../store/s3-store.ts";

export interface LevelCheck {
  name: string;
  status: "ok" | "fail" | "skip";
  detail: string;
  fix?: string;
}

export interface LevelInputs {
  /** Repository variables (or the environment). */
  variables: Record<string, string | undefined>;
  /** Names of the repository secrets (or of the set environment variables). */
  secrets: ReadonlySet<string>;
}

interface Requirement {
  name: string;
  /** Why the level needs it, for the list of missing ones. */
  what: string;
  /** A problem with a set value, or undefined when it is fine. */
  problem?: (value: string) => string | undefined;
  secret?: boolean;
}

interface Level {
  name: string;
  number: number;
  title: string;
  /** Any of these set means the fork is setting this level up. */
  started(v: LevelInputs["variables"]): boolean;
  requires(inputs: LevelInputs): Requirement[];
  /** Levels it builds on (their names). */
  after: string[];
  summary(v: LevelInputs["variables"]): string;
}

const role = (name: string, what: string): Requirement => ({
  name,
  what,
  problem: roleArnProblem,
});

const s3Url = (value: string): string | undefined => {
  try {
    parseS3Url(value);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
};

const isSet = (v: LevelInputs["variables"], name: string) => (v[name] ?? "").trim() !== "";

/** A repository URI, resolved to this checkout's tag as the pipeline will run it. */
function image(v: LevelInputs["variables"], name: string, kind: "train" | "serve"): string {
  const value = (v[name] ?? "").trim();
  return value === "" ? "(none)" : resolveImage(value, kind);
}

export const LEVELS: readonly Level[] = [
  {
    name: "s3-store",
    number: 2,
    title: "S3 run store",
    started: (v) => isSet(v, "MLOPS_S3_STORE") || isSet(v, "AWS_ROLE_ARN"),
    requires: () => [
      { name: "MLOPS_S3_STORE", what: "the run store (s3://bucket/prefix)", problem: s3Url },
      role("AWS_ROLE_ARN", "the pipeline role the jobs assume through OIDC"),
      role("AWS_DEPLOY_ROLE_ARN", "the deploy role of the promote job (production environment)"),
    ],
    after: [],
    summary: (v) => `store ${v.MLOPS_S3_STORE}, region ${v.AWS_REGION || "us-east-1"}`,
  },
  {
    name: "snowflake",
    number: 3,
    title: "Snowflake",
    started: (v) => (v.MLOPS_WAREHOUSE ?? "") === "snowflake" || isSet(v, "SNOWFLAKE_ACCOUNT"),
    requires: ({ variables: v, secrets }) => {
      const oidc = /^(oidc|workload_identity|wif)$/i.test(v.SNOWFLAKE_AUTHENTICATOR ?? "");
      const auth: Requirement[] = oidc
        ? []
        : secrets.has("SNOWFLAKE_PRIVATE_KEY") || secrets.has("SNOWFLAKE_PASSWORD")
          ? []
          : [
              {
                name: "SNOWFLAKE_PRIVATE_KEY",
                what: "a credential: the key text (or SNOWFLAKE_PASSWORD, or SNOWFLAKE_AUTHENTICATOR=workload_identity)",
                secret: true,
              },
            ];
      return [
        {
          name: "MLOPS_WAREHOUSE",
          what: "the warehouse switch",
          problem: (value) => (value === "snowflake" ? undefined : 'must be "snowflake"'),
        },
        { name: "SNOWFLAKE_ACCOUNT", what: "the account identifier" },
        ...(oidc ? [] : [{ name: "SNOWFLAKE_USER", what: "the service user" }]),
        { name: "SNOWFLAKE_WAREHOUSE", what: "the virtual warehouse" },
        { name: "SNOWFLAKE_DATABASE", what: "the database" },
        { name: "SNOWFLAKE_SCHEMA", what: "the schema" },
        ...auth,
      ];
    },
    after: [],
    summary: (v) =>
      `account ${v.SNOWFLAKE_ACCOUNT}, ${v.SNOWFLAKE_DATABASE}.${v.SNOWFLAKE_SCHEMA} on ${v.SNOWFLAKE_WAREHOUSE}`,
  },
  {
    name: "batch",
    number: 4,
    title: "AWS Batch training",
    started: (v) => isSet(v, "MLOPS_BATCH_QUEUE") || isSet(v, "MLOPS_BATCH_IMAGE"),
    requires: ({ variables: v }) => {
      const secrets = (v.MLOPS_BATCH_SECRETS ?? "").trim();
      let named: string[] = [];
      let secretsProblem: string | undefined;
      try {
        named = secrets === "" ? [] : Object.keys(parseBatchSecrets(secrets));
      } catch (error) {
        secretsProblem = (error as Error).message;
      }
      const oidc = /^(oidc|workload_identity|wif)$/i.test(v.SNOWFLAKE_AUTHENTICATOR ?? "");
      // The job logs in to Snowflake itself: with a key or password, ECS must inject it.
      const jobCredential =
        oidc || named.includes("SNOWFLAKE_PRIVATE_KEY") || named.includes("SNOWFLAKE_PASSWORD");
      return [
        { name: "MLOPS_BATCH_QUEUE", what: "the GPU job queue" },
        {
          name: "MLOPS_BATCH_IMAGE",
          what: "the train image's repository (ECR URI; the checkout's tag is added)",
          problem: imageProblem,
        },
        role("MLOPS_BATCH_JOB_ROLE_ARN", "the role the job runs as (reads and writes the store)"),
        role(
          "AWS_IMAGES_ROLE_ARN",
          "the images role, so the images workflow pushes the train image",
        ),
        // With workload identity the job needs no secret; otherwise ECS injects the credential.
        ...(oidc && secrets === ""
          ? []
          : [
              {
                name: "MLOPS_BATCH_SECRETS",
                what: "the Snowflake credential for the job, e.g. SNOWFLAKE_PRIVATE_KEY=arn:aws:secretsmanager:…",
                problem: () =>
                  secretsProblem ??
                  (jobCredential
                    ? undefined
                    : "names no SNOWFLAKE_PRIVATE_KEY or SNOWFLAKE_PASSWORD secret"),
              },
            ]),
        ...(named.length > 0
          ? [role("MLOPS_BATCH_EXECUTION_ROLE_ARN", "the execution role that reads the secrets")]
          : []),
      ];
    },
    after: ["s3-store", "snowflake"],
    summary: (v) => `queue ${v.MLOPS_BATCH_QUEUE}, image ${image(v, "MLOPS_BATCH_IMAGE", "train")}`,
  },
  {
    name: "sagemaker",
    number: 5,
    title: "SageMaker endpoint",
    started: (v) =>
      (v.MLOPS_PROMOTE_TARGET ?? "") === "sagemaker" ||
      isSet(v, "MLOPS_SAGEMAKER_IMAGE") ||
      isSet(v, "MLOPS_SAGEMAKER_ROLE_ARN"),
    requires: () => [
      {
        name: "MLOPS_PROMOTE_TARGET",
        what: "the promote target",
        problem: (value) => (value === "sagemaker" ? undefined : 'must be "sagemaker"'),
      },
      {
        name: "MLOPS_SAGEMAKER_IMAGE",
        what: "the serve image's repository (ECR URI; the checkout's tag is added)",
        problem: imageProblem,
      },
      role("MLOPS_SAGEMAKER_ROLE_ARN", "the execution role SageMaker assumes"),
      role("AWS_IMAGES_ROLE_ARN", "the images role, so the images workflow pushes the serve image"),
    ],
    after: ["s3-store"],
    summary: (v) =>
      `endpoint ${v.MLOPS_SAGEMAKER_ENDPOINT || "(default name)"}, image ${image(v, "MLOPS_SAGEMAKER_IMAGE", "serve")}`,
  },
];

/** One check per level: ok, skip (not started) or fail with everything missing at once. */
export function checkLevels(inputs: LevelInputs): LevelCheck[] {
  const v = inputs.variables;
  const findings = new Map<string, string[]>();
  for (const level of LEVELS) {
    const problems: string[] = [];
    for (const requirement of level.requires(inputs)) {
      if (requirement.secret) {
        if (!inputs.secrets.has(requirement.name))
          problems.push(`${requirement.name} (secret) is missing: ${requirement.what}`);
        continue;
      }
      const value = (v[requirement.name] ?? "").trim();
      if (value === "") {
        problems.push(`${requirement.name} is missing: ${requirement.what}`);
        continue;
      }
      const problem = requirement.problem?.(value);
      if (problem !== undefined) problems.push(`${requirement.name} "${value}" ${problem}`);
    }
    findings.set(level.name, problems);
  }
  return LEVELS.map((level) => {
    const label = `level ${level.number}, ${level.title}`;
    const own = findings.get(level.name) ?? [];
    if (!level.started(v)) {
      return {
        name: level.name,
        status: "skip",
        detail: `not set up (${label}): needs ${level
          .requires(inputs)
          .map((r) => r.name)
          .join(", ")}`,
      };
    }
    const missingBefore = level.after.flatMap((name) => {
      const before = LEVELS.find((l) => l.name === name) as Level;
      const problems = findings.get(name) ?? [];
      return problems.length > 0
        ? [`${before.title} (level ${before.number}) first: ${problems.join("; ")}`]
        : [];
    });
    const problems = [...own, ...missingBefore];
    if (problems.length > 0) {
      return {
        name: level.name,
        status: "fail",
        detail: `${label}: ${problems.length} to fix: ${problems.join("; ")}`,
        fix: `set them as repository variables (secrets where marked); infra/ creates the AWS side and prints the values (npm run infra:variables), infra/snowflake/setup.sql the Snowflake side`,
      };
    }
    return { name: level.name, status: "ok", detail: `${label}: ${level.summary(v)}` };
  });
}

/**
 * Repository variables from `gh variable list --json name,value` (an array) or an object such as
 * `toJSON(vars)`; secret names from `gh secret list --json name`.
 */
export function parseVariables(json: string, what: string): Record<string, string> {
  const parsed = JSON.parse(json) as unknown;
  if (Array.isArray(parsed)) {
    return Object.fromEntries(
      parsed.map((entry: unknown, index) => {
        const { name, value } = (entry ?? {}) as { name?: unknown; value?: unknown };
        if (typeof name !== "string") throw new Error(`${what}: entry ${index + 1} has no name`);
        return [name, typeof value === "string" ? value : ""];
      }),
    );
  }
  if (parsed && typeof parsed === "object") {
    return Object.fromEntries(
      Object.entries(parsed).map(([name, value]) => [name, typeof value === "string" ? value : ""]),
    );
  }
  throw new Error(`${what}: expected gh's JSON list ([{"name": …, "value": …}]) or an object`);
}
