/**
 * Where the AWS SDK would find credentials, followed as far as it can be without a request:
 * what `pipeline doctor` says about an S3 store, a Batch job or a SageMaker deployment before
 * any of them calls AWS.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { nonEmpty, type DoctorCheck } from "../doctor-check.ts";

const NO_CREDENTIALS =
  "no AWS credentials in the environment or ~/.aws; only an EC2 instance role could supply them";
const CREDENTIALS_FIX =
  "in GitHub Actions use aws-actions/configure-aws-credentials with role-to-assume (OIDC); locally set AWS_PROFILE or run aws configure";

export interface CredentialFinding {
  /** Where the SDK's default chain would find credentials; undefined: nowhere local. */
  source?: string;
  problem?: string;
  fix?: string;
}

/** The AWS SDK's default credential chain, as far as it can be followed without a request. */
export function awsCredentials(env: NodeJS.ProcessEnv): CredentialFinding {
  if (nonEmpty(env.AWS_ACCESS_KEY_ID)) {
    if (!nonEmpty(env.AWS_SECRET_ACCESS_KEY)) {
      return {
        problem: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
        fix: "set AWS_SECRET_ACCESS_KEY too (and AWS_SESSION_TOKEN for temporary keys), or unset AWS_ACCESS_KEY_ID",
      };
    }
    return { source: "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY" };
  }
  const tokenFile = nonEmpty(env.AWS_WEB_IDENTITY_TOKEN_FILE);
  if (tokenFile) {
    if (!nonEmpty(env.AWS_ROLE_ARN)) {
      return {
        problem: "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not",
        fix: "set AWS_ROLE_ARN to the role the web identity token assumes",
      };
    }
    if (!existsSync(tokenFile)) {
      return {
        problem: `AWS_WEB_IDENTITY_TOKEN_FILE names ${tokenFile}, which does not exist`,
        fix: "point AWS_WEB_IDENTITY_TOKEN_FILE at the token file your platform writes, or unset it",
      };
    }
    return { source: "AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN" };
  }
  if (
    nonEmpty(env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) ||
    nonEmpty(env.AWS_CONTAINER_CREDENTIALS_FULL_URI)
  ) {
    return { source: "the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_*)" };
  }
  const home = nonEmpty(env.HOME) ?? nonEmpty(env.USERPROFILE) ?? homedir();
  const files = [
    nonEmpty(env.AWS_SHARED_CREDENTIALS_FILE) ?? join(home, ".aws", "credentials"),
    nonEmpty(env.AWS_CONFIG_FILE) ?? join(home, ".aws", "config"),
  ].filter((f) => existsSync(f));
  const profile = nonEmpty(env.AWS_PROFILE);
  if (profile) {
    // The credentials file names a profile [name], the config file [profile name].
    const sections = [`[${profile}]`, `[profile ${profile}]`];
    const defined = files.some((f) =>
      readFileSync(f, "utf8")
        .split("\n")
        .some((line) => sections.includes(line.trim())),
    );
    if (!defined) {
      return {
        problem: `AWS_PROFILE=${profile} but no file defines that profile (looked in ${files.length > 0 ? files.join(", ") : "~/.aws/credentials and ~/.aws/config, which do not exist"})`,
        fix: `run aws configure --profile ${profile} (or aws configure sso), or unset AWS_PROFILE`,
      };
    }
    return { source: `AWS_PROFILE=${profile}` };
  }
  return files[0] ? { source: `the default profile in ${files[0]}` } : {};
}

/**
 * The check `name` fails when the credentials `what` needs are set up wrong, and warns when
 * nothing local supplies them; undefined when they were found (`found.source`).
 */
export function credentialsCheck(
  name: string,
  what: string,
  found: CredentialFinding,
): DoctorCheck | undefined {
  if (found.problem !== undefined) {
    return { name, status: "fail", detail: `${what}: ${found.problem}`, fix: found.fix };
  }
  if (found.source === undefined) {
    // An EC2 instance role (IMDS) supplies credentials that only a network call could find.
    return { name, status: "warn", detail: `${what}: ${NO_CREDENTIALS}`, fix: CREDENTIALS_FIX };
  }
  return undefined;
}
