/**
 * The SageMaker deployment's settings, checked before any AWS call: a typo in a role ARN or an
 * endpoint name fails at once with the setting's name, not after a model was uploaded.
 */
import { ProductionVariantInstanceType } from "@aws-sdk/client-sagemaker";
import { InputError } from "../errors.ts";
import { parseS3Url } from "../store/s3-store.ts";

/** How traffic moves from the old fleet to the new one during a blue/green update. */
export type TrafficRouting =
  /** All at once, then `waitSeconds` of baking (alarms watched) before the old fleet goes. */
  | { type: "ALL_AT_ONCE"; waitSeconds: number }
  /** `percent` of capacity first, the rest after `waitSeconds`. */
  | { type: "CANARY"; percent: number; waitSeconds: number }
  /** Steps of `percent` of capacity, `waitSeconds` apart. */
  | { type: "LINEAR"; percent: number; waitSeconds: number };

export interface SageMakerSettings {
  region: string;
  endpointName: string;
  /** The serving image (containers/serve.Dockerfile pushed to ECR): host/repo:tag or @sha256. */
  image: string;
  /** IAM role SageMaker assumes to pull the image and read the model data. */
  executionRoleArn: string;
  /** A real-time inference instance type the SDK knows (ml.m5.large, ml.c6i.xlarge, …). */
  instanceType: string;
  instanceCount: number;
  /** `s3://bucket/prefix`: model.tar.gz goes to `<prefix>/<run id>/model.tar.gz`. */
  modelData: string;
  trafficRouting: TrafficRouting;
  /** Seconds the old fleet stays up after the traffic moved (0–3600). */
  terminationWaitSeconds: number;
  /** Seconds SageMaker allows the whole blue/green update (600–28800). */
  maxExecutionTimeoutSeconds: number;
  /** CloudWatch alarms that roll the update back when they fire (at most 10). */
  alarms: string[];
  /** Endpoint configs and models of this endpoint kept besides the serving and previous ones. */
  keep: number;
  /** Seconds to wait for the endpoint to be InService. */
  waitSeconds: number;
  /** Data Capture of requests and answers, for the drift checks (pipeline/monitor/). */
  dataCapture?: { destination: string; percent: number };
}

/** SageMaker's rule for endpoint, endpoint config and model names. */
export const SAGEMAKER_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const IMAGE =
  /^[a-z0-9][a-z0-9.-]*(:\d+)?\/[a-z0-9._/-]+(:[\w][\w.-]{0,127}|@sha256:[a-f0-9]{64})?$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const ALARM_NAME = /^(?!\s)[^\n]{1,255}$/;

/** Parses `all-at-once`, `canary:<percent>` or `linear:<percent>` (the CLI / env form). */
export function parseTrafficRouting(text: string, waitSeconds: number): TrafficRouting {
  const match = /^(all-at-once|canary|linear)(?::(\d+))?$/i.exec(text.trim());
  const kind = match?.[1]?.toLowerCase();
  const percent = match?.[2] === undefined ? undefined : Number(match[2]);
  if (kind === "all-at-once" && percent === undefined) return { type: "ALL_AT_ONCE", waitSeconds };
  if (kind === "canary" && percent !== undefined) return { type: "CANARY", percent, waitSeconds };
  if (kind === "linear" && percent !== undefined) return { type: "LINEAR", percent, waitSeconds };
  throw new InputError(
    `invalid traffic routing "${text}"`,
    { field: "promote.sagemaker.traffic" },
    "use all-at-once, canary:<percent of capacity> (1-50) or linear:<percent per step> (10-50)",
  );
}

/** Settings that passed `validateSageMakerSettings`. */
export type ValidSageMakerSettings = SageMakerSettings & {
  instanceType: ProductionVariantInstanceType;
};

/** Returns the settings when every one is valid; otherwise one InputError listing every problem. */
export function validateSageMakerSettings(settings: SageMakerSettings): ValidSageMakerSettings {
  const problems: [field: string, message: string][] = [];
  const check = (ok: boolean, field: string, message: string): void => {
    if (!ok) problems.push([field, message]);
  };
  const s = settings;
  const int = (value: number, min: number, max: number): boolean =>
    Number.isInteger(value) && value >= min && value <= max;

  check(REGION.test(s.region), "region", `"${s.region}" is not an AWS region (e.g. eu-west-1)`);
  check(
    SAGEMAKER_NAME.test(s.endpointName),
    "endpoint",
    `"${s.endpointName}" is not a SageMaker name: 1-63 letters, digits and '-', starting and ending with a letter or digit`,
  );
  check(
    IMAGE.test(s.image) && s.image.length <= 255,
    "image",
    `"${s.image}" is not a container image reference (e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/recs-serve:1.0)`,
  );
  check(
    ROLE_ARN.test(s.executionRoleArn),
    "role",
    `"${s.executionRoleArn}" is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)`,
  );
  check(
    isInstanceType(s.instanceType),
    "instanceType",
    `"${s.instanceType}" is not a SageMaker real-time inference instance type (e.g. ml.m5.large)`,
  );
  check(
    int(s.instanceCount, 1, 100),
    "instanceCount",
    `${s.instanceCount} is not an integer 1-100`,
  );
  try {
    parseS3Url(s.modelData);
  } catch (error) {
    problems.push(["modelData", (error as Error).message]);
  }

  const routing = s.trafficRouting;
  check(
    int(routing.waitSeconds, 0, 3600),
    "trafficWait",
    `${routing.waitSeconds} is not an integer 0-3600 (seconds between traffic steps)`,
  );
  if (routing.type === "CANARY") {
    check(int(routing.percent, 1, 50), "traffic", `canary size ${routing.percent}% is not 1-50`);
  } else if (routing.type === "LINEAR") {
    check(int(routing.percent, 10, 50), "traffic", `linear step ${routing.percent}% is not 10-50`);
  }
  check(
    int(s.terminationWaitSeconds, 0, 3600),
    "terminationWait",
    `${s.terminationWaitSeconds} is not an integer 0-3600`,
  );
  check(
    int(s.maxExecutionTimeoutSeconds, 600, 28800),
    "maxExecutionTimeout",
    `${s.maxExecutionTimeoutSeconds} is not an integer 600-28800`,
  );
  const steps = routing.type === "LINEAR" ? Math.ceil(100 / Math.max(routing.percent, 1)) : 1;
  const waits = steps * routing.waitSeconds + s.terminationWaitSeconds;
  check(
    s.maxExecutionTimeoutSeconds > waits,
    "maxExecutionTimeout",
    `${s.maxExecutionTimeoutSeconds} s must exceed the deployment's own waits (${waits} s: traffic steps plus termination wait)`,
  );
  check(
    s.alarms.length <= 10,
    "alarms",
    `${s.alarms.length} alarms given; SageMaker takes at most 10`,
  );
  for (const alarm of s.alarms) {
    check(ALARM_NAME.test(alarm), "alarms", `"${alarm}" is not a CloudWatch alarm name`);
  }
  check(int(s.keep, 0, 100), "keep", `${s.keep} is not an integer 0-100`);
  check(
    Number.isFinite(s.waitSeconds) && s.waitSeconds > 0,
    "waitSeconds",
    `${s.waitSeconds} is not a positive number of seconds`,
  );

  if (problems.length > 0 || !isInstanceType(s.instanceType)) {
    const list = problems.map(([field, message]) => `promote.sagemaker.${field}: ${message}`);
    throw new InputError(
      `invalid SageMaker settings: ${list.join("; ")}`,
      {},
      "fix them in the config file, the MLOPS_SAGEMAKER_* environment variables or the flags",
    );
  }
  return { ...settings, instanceType: s.instanceType };
}

const INSTANCE_TYPES: ReadonlySet<string> = new Set(Object.values(ProductionVariantInstanceType));

export function isInstanceType(value: string): value is ProductionVariantInstanceType {
  return INSTANCE_TYPES.has(value);
}
