/**
 * The stack's outputs are the GitHub repository variables a user sets. CloudFormation output
 * keys must be alphanumeric, so each output's key is the variable's name in PascalCase
 * (AWS_ROLE_ARN -> AwsRoleArn) and its description starts with the exact variable name.
 */

/** Every repository variable the stack outputs, in the order the README lists them. */
export const GITHUB_VARIABLES = [
  "AWS_ROLE_ARN",
  "AWS_DEPLOY_ROLE_ARN",
  "AWS_IMAGES_ROLE_ARN",
  "AWS_REGION",
  "MLOPS_S3_STORE",
  "MLOPS_BATCH_QUEUE",
  "MLOPS_BATCH_JOB_DEFINITION",
  "MLOPS_BATCH_JOB_ROLE_ARN",
  "MLOPS_BATCH_EXECUTION_ROLE_ARN",
  "MLOPS_BATCH_IMAGE",
  "MLOPS_SAGEMAKER_IMAGE",
  "MLOPS_SAGEMAKER_ROLE_ARN",
  "MLOPS_SAGEMAKER_ENDPOINT",
] as const;

export type GithubVariable = (typeof GITHUB_VARIABLES)[number];

/** `AWS_ROLE_ARN` -> `AwsRoleArn`: the CloudFormation output key of a variable. */
export function outputKey(variable: string): string {
  return variable
    .toLowerCase()
    .split("_")
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join("");
}

/** Shell-quotes a value for the `gh variable set` commands printed below. */
function quote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * The `gh variable set` commands for the outputs of `cdk deploy --outputs-file FILE`
 * (`{ "<stack name>": { "<output key>": "<value>" } }`). Throws when an output is missing.
 */
export function ghVariableCommands(outputsFile: unknown, repository?: string): string[] {
  if (typeof outputsFile !== "object" || outputsFile === null) {
    throw new Error("the outputs file is not a JSON object (cdk deploy --outputs-file writes one)");
  }
  const stacks = Object.values(outputsFile as Record<string, unknown>);
  const outputs = stacks.find(
    (s): s is Record<string, string> =>
      typeof s === "object" && s !== null && outputKey("AWS_ROLE_ARN") in s,
  );
  if (outputs === undefined) {
    throw new Error("no stack in the outputs file has the AwsRoleArn output: deploy infra/ first");
  }
  const repo = repository === undefined ? "" : ` --repo ${quote(repository)}`;
  return GITHUB_VARIABLES.map((variable) => {
    const value = outputs[outputKey(variable)];
    if (value === undefined) throw new Error(`the outputs file has no ${outputKey(variable)}`);
    return `gh variable set ${variable}${repo} --body ${quote(value)}`;
  });
}
