/**
 * Prints the `gh variable set` commands for the deployed stack's outputs:
 *
 *   npx cdk deploy -c githubRepository=owner/name --outputs-file cdk-outputs.json   (in infra/)
 *   npx tsx infra/print-github-variables.ts infra/cdk-outputs.json [owner/name]
 *
 * Review them, then paste them into a shell where `gh auth login` was done.
 */
import { readFileSync } from "node:fs";
import { ghVariableCommands } from "./github-variables.ts";

const [file = "infra/cdk-outputs.json", repository] = process.argv.slice(2);
try {
  const commands = ghVariableCommands(JSON.parse(readFileSync(file, "utf8")), repository);
  console.log(commands.join("\n"));
} catch (error) {
  console.error(`print-github-variables: ${file}: ${(error as Error).message}`);
  process.exitCode = 2;
}
