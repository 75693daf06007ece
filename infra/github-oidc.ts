/**
 * GitHub Actions' OIDC identity provider and the roles its tokens may assume. No long-lived AWS
 * keys exist anywhere: each job asks GitHub for a token (`id-token: write`), and
 * aws-actions/configure-aws-credentials exchanges it for the role named in a repository variable.
 *
 * Each role trusts a different `sub` claim, which is how the two trust levels of CI are enforced
 * by AWS rather than by the workflow files (which a pull request can change):
 * - pipeline role: `repo:<owner>/<name>:*`, every job of this repository, pull requests included;
 * - deploy role:   `repo:<owner>/<name>:environment:production`, only jobs that run in the
 *                  `production` environment, whose required reviewers and branch rule (main)
 *                  GitHub enforces before the job gets a token;
 * - images role:   `repo:<owner>/<name>:ref:refs/heads/main`, only jobs running on main.
 * Pull requests from forks get no token at all (GitHub's rule), so they never reach any of them.
 */
import { Duration } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";

export const GITHUB_OIDC_ISSUER = "token.actions.githubusercontent.com";
/** The audience aws-actions/configure-aws-credentials asks for. */
export const GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com";

export interface GithubOidcProps {
  /** `owner/name`. */
  githubRepository: string;
  /** Import the account's existing provider instead of creating one (one per issuer). */
  existingProviderArn?: string;
}

/** The `sub` claim patterns the three roles trust. */
export function githubSubjects(repository: string) {
  return {
    anyRef: `repo:${repository}:*`,
    production: `repo:${repository}:environment:production`,
    main: `repo:${repository}:ref:refs/heads/main`,
  };
}

export class GithubOidc extends Construct {
  readonly provider: iam.IOidcProvider;
  private readonly repository: string;

  constructor(scope: Construct, id: string, props: GithubOidcProps) {
    super(scope, id);
    this.repository = props.githubRepository;
    // The native AWS::IAM::OIDCProvider (no custom-resource Lambda). No thumbprints: IAM trusts
    // GitHub's issuer through its own root CAs.
    this.provider =
      props.existingProviderArn !== undefined
        ? iam.OidcProviderNative.fromOidcProviderArn(this, "Provider", props.existingProviderArn)
        : new iam.OidcProviderNative(this, "Provider", {
            url: `https://${GITHUB_OIDC_ISSUER}`,
            clientIds: [GITHUB_OIDC_AUDIENCE],
          });
  }

  /**
   * A role that GitHub Actions jobs whose `sub` claim matches may assume. `match` "like" takes a
   * wildcard pattern (StringLike); "equals" takes one exact subject (StringEquals).
   */
  role(
    id: string,
    subject: { match: "like" | "equals"; value: string },
    description: string,
  ): iam.Role {
    const principal = new iam.WebIdentityPrincipal(this.provider.oidcProviderArn, {
      StringEquals: {
        [`${GITHUB_OIDC_ISSUER}:aud`]: GITHUB_OIDC_AUDIENCE,
        ...(subject.match === "equals" ? { [`${GITHUB_OIDC_ISSUER}:sub`]: subject.value } : {}),
      },
      ...(subject.match === "like"
        ? { StringLike: { [`${GITHUB_OIDC_ISSUER}:sub`]: subject.value } }
        : {}),
    });
    return new iam.Role(this, id, {
      assumedBy: principal,
      description: `${description} (GitHub ${this.repository})`,
      // The longest job (train, 120 minutes) must not outlive its credentials.
      maxSessionDuration: Duration.hours(3),
    });
  }
}
