/**
 * Repository variables become the pipeline's settings: every variable named like a setting's
 * environment variable (MLOPS_*, SNOWFLAKE_*) is exported to the job's later steps, so a new
 * setting needs no workflow edit. Names the workflow already sets are left alone: it sets them
 * on purpose (the run store from MLOPS_S3_STORE, the embedded defaults for forks).
 *
 * Run by actions/setup as `npx tsx export-variables.ts` with VARIABLES=${{ toJSON(vars) }}.
 */
import * as core from "@actions/core";

const SETTING_VARIABLE = /^(MLOPS|SNOWFLAKE)_[A-Z0-9_]+$/;

export function variablesToExport(
  variables: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Record<string, string> {
  const exported: Record<string, string> = {};
  for (const [name, value] of Object.entries(variables)) {
    if (!SETTING_VARIABLE.test(name) || typeof value !== "string") continue;
    if (env[name] !== undefined) continue;
    exported[name] = value;
  }
  return exported;
}

export function exportVariables(json: string, env: NodeJS.ProcessEnv = process.env): string[] {
  let variables: unknown;
  try {
    variables = JSON.parse(json);
  } catch {
    throw new Error("VARIABLES is not JSON: pass ${{ toJSON(vars) }}");
  }
  if (variables === null || typeof variables !== "object" || Array.isArray(variables)) {
    throw new Error("VARIABLES is not a JSON object: pass ${{ toJSON(vars) }}");
  }
  const exported = variablesToExport(variables as Record<string, unknown>, env);
  for (const [name, value] of Object.entries(exported)) core.exportVariable(name, value);
  return Object.keys(exported).sort();
}

const entry = process.argv[1];
if (entry && /export-variables\.ts$/.test(entry)) {
  try {
    const names = exportVariables(process.env.VARIABLES ?? "{}");
    core.info(
      names.length
        ? `settings from repository variables: ${names.join(", ")}`
        : "no MLOPS_* or SNOWFLAKE_* repository variables: the defaults apply",
    );
  } catch (error) {
    core.setFailed((error as Error).message);
  }
}
