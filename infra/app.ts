/**
 * The CDK app: `npx cdk deploy -c githubRepository=owner/name` in infra/ (cdk.json runs this
 * file with tsx), or `npm run infra:synth -- -c githubRepository=owner/name` from the root.
 */
import { App } from "aws-cdk-lib";
import { addMlopsStack } from "./mlops-stack.ts";

const app = new App();
try {
  addMlopsStack(app);
} catch (error) {
  console.error(`infra: ${(error as Error).message}`);
  process.exit(2);
}
app.synth();
