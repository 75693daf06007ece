/**
 * cdk-nag acknowledgments, made where the finding is made so each one sits next to its reason.
 * cdk-nag 3 matches acknowledgments exactly (`AwsSolutions-IAM5[Resource::<arn>]`), one per
 * finding: a new wildcard that nobody acknowledged fails the synth and the tests.
 */
import { Stack, Validations } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

/** Acknowledges cdk-nag rule ids (`AwsSolutions-IAM4[...]`) on a construct and its children. */
export function acknowledge(scope: IConstruct, ids: string[], reason: string): void {
  for (const id of ids) Validations.of(scope).acknowledge({ id, reason });
}

/**
 * Acknowledges AwsSolutions-IAM5 (wildcard permissions) for these resource ARNs in the
 * policies of `scope` (a role): the finding names the ARN as cdk-nag prints it, so it is
 * computed the same way (tokens resolved, then flattened).
 */
export function acknowledgeWildcardResources(
  scope: IConstruct,
  resources: string[],
  reason: string,
): void {
  const stack = Stack.of(scope);
  const ids = resources
    .map((resource) => flattenCfnReference(stack.resolve(resource)))
    .filter((flat) => flat.includes("*"))
    .map((flat) => `AwsSolutions-IAM5[Resource::${flat}]`);
  acknowledge(scope, ids, reason);
}

/**
 * cdk-nag's own rendering of a resolved CloudFormation value (cdk-nag/lib/utils/
 * flatten-cfn-reference, not exported): Fn::Join joined, Ref as <Name>, GetAtt as <Id.Attr>.
 */
export function flattenCfnReference(node: unknown): string {
  if (node === undefined) return "";
  if (typeof node === "string") return node.replace(/\${/g, "<").replace(/}/g, ">");
  if (typeof node === "object" && node !== null) {
    const o = node as Record<string, unknown>;
    if (Array.isArray(o["Fn::Join"])) {
      const [delimiter, items] = o["Fn::Join"] as [string, unknown[]];
      return items.map(flattenCfnReference).join(delimiter);
    }
    if (o["Fn::Sub"] !== undefined) return flattenCfnReference(o["Fn::Sub"]);
    if (Array.isArray(o["Fn::GetAtt"])) {
      const [resource, attribute] = o["Fn::GetAtt"] as [unknown, unknown];
      return `<${flattenCfnReference(resource)}.${flattenCfnReference(attribute)}>`;
    }
    if (o["Fn::ImportValue"] !== undefined) return flattenCfnReference(o["Fn::ImportValue"]);
    if (o.Ref !== undefined) return `<${flattenCfnReference(o.Ref)}>`;
  }
  return JSON.stringify(node);
}

/** Why `Resource::*` is unavoidable for these actions (no resource-level permissions). */
export function acknowledgeUnscopedActions(scope: IConstruct, actions: string[]): void {
  acknowledge(
    scope,
    ["AwsSolutions-IAM5[Resource::*]"],
    `${actions.join(", ")} support no resource-level permissions (Service Authorization Reference); everything else in this role names its resources`,
  );
}
