/**
 * Reads a dbt project from disk: dbt_project.yml, the profile's target schema, the model, test
 * and macro files and the YAML property files. Only what the built-in runner understands is
 * accepted; a key that would change dbt's behaviour in a way the runner does not reproduce fails
 * here with the file and line, instead of being ignored.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { LineCounter, isMap, isSeq, parseDocument, type Document } from "yaml";
import { InputError } from "../../errors.ts";

export interface ProjectFile {
  /** Path relative to the project directory, '/'-separated (dbt's `original_file_path`). */
  path: string;
  text: string;
}

export interface ModelFile extends ProjectFile {
  name: string;
  /** Folders under the model path, then the name: dbt's fqn without the project name. */
  folders: string[];
}

/** A node's settings from dbt_project.yml, properties files and `config()`, merged in that order. */
export interface NodeConfig {
  materialized?: string;
  schema?: string;
  alias?: string;
  tags?: string[];
  enabled?: boolean;
  unique_key?: string | string[];
  incremental_strategy?: string;
  severity?: string;
}

export const SUPPORTED_CONFIG_KEYS = new Set<keyof NodeConfig>([
  "materialized",
  "schema",
  "alias",
  "tags",
  "enabled",
  "unique_key",
  "incremental_strategy",
  "severity",
]);

export interface DbtProject {
  name: string;
  dir: string;
  profile: string;
  vars: Record<string, unknown>;
  /** `models:` of dbt_project.yml under the project's name: folder → config (+keys). */
  folderConfig: Record<string, unknown>;
  models: ModelFile[];
  singularTests: ModelFile[];
  macroFiles: ProjectFile[];
  propertyFiles: PropertyFile[];
}

export interface PropertyFile extends ProjectFile {
  data: unknown;
  lineOf(path: (string | number)[]): number | undefined;
}

/** Keys of dbt_project.yml the runner reads, or that do not change what a build produces. */
const PROJECT_KEYS = new Set([
  "name",
  "version",
  "config-version",
  "profile",
  "model-paths",
  "macro-paths",
  "test-paths",
  "target-path",
  "clean-targets",
  "vars",
  "models",
  "require-dbt-version",
]);

export function loadProject(dir: string): DbtProject {
  const projectPath = join(dir, "dbt_project.yml");
  if (!existsSync(projectPath)) {
    throw new InputError(
      `no dbt_project.yml in ${dir}`,
      { field: "transform.project" },
      "Point transform.project at the dbt project folder.",
    );
  }
  const project = readYaml(dir, "dbt_project.yml");
  const data = asRecord(project.data, project, []);
  for (const key of Object.keys(data)) {
    if (!PROJECT_KEYS.has(key)) {
      throw unsupported(
        project,
        [key],
        `the dbt_project.yml key "${key}"`,
        `keys the built-in runner reads: ${[...PROJECT_KEYS].join(", ")}`,
      );
    }
  }
  const name = stringField(data, "name", project);
  const paths = (key: string, fallback: string): string[] => {
    const value = data[key] ?? [fallback];
    if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
      throw new InputError(`${key} must be a list of folders`, {
        file: project.path,
        line: project.lineOf([key]),
      });
    }
    return value as string[];
  };
  const modelsSection = data.models === undefined ? {} : asRecord(data.models, project, ["models"]);
  const modelPaths = paths("model-paths", "models");
  const models = modelPaths.flatMap((root) =>
    sqlFiles(dir, root).map((file) => ({
      ...file,
      name: baseName(file.path),
      folders: file.path.split("/").slice(1, -1),
    })),
  );
  const singularTests = paths("test-paths", "tests").flatMap((root) =>
    sqlFiles(dir, root).map((file) => ({
      ...file,
      name: baseName(file.path),
      folders: file.path.split("/").slice(1, -1),
    })),
  );
  const propertyFiles = modelPaths.flatMap((root) =>
    listFiles(dir, root, /\.ya?ml$/).map((path) => readYaml(dir, path)),
  );
  checkUnique(models, "model");
  checkUnique(singularTests, "singular test");
  return {
    name,
    dir,
    profile: stringField(data, "profile", project),
    vars: data.vars === undefined ? {} : asRecord(data.vars, project, ["vars"]),
    folderConfig:
      modelsSection[name] === undefined ? {} : asRecord(modelsSection[name], project, ["models"]),
    models,
    singularTests,
    macroFiles: paths("macro-paths", "macros").flatMap((root) => sqlFiles(dir, root)),
    propertyFiles,
  };
}

/** The schema a profile's target builds in (its `schema` key, env_var() resolved). */
export function profileSchema(
  dir: string,
  profile: string,
  target: string,
  env: NodeJS.ProcessEnv,
): string {
  const file = readYaml(dir, "profiles.yml");
  const output = (file.data as Record<string, { outputs?: Record<string, { schema?: unknown }> }>)[
    profile
  ]?.outputs?.[target];
  if (!output) {
    throw new InputError(`profile "${profile}" has no target "${target}"`, { file: file.path });
  }
  const schema = String(output.schema ?? "main");
  // Profiles may read the schema from the environment: `{{ env_var('NAME', 'default') }}`.
  return schema.replace(
    /\{\{\s*env_var\(\s*'([^']+)'\s*(?:,\s*'([^']*)'\s*)?\)\s*\}\}/g,
    (_m, name: string, fallback?: string) => env[name] ?? fallback ?? "",
  );
}

function checkUnique(files: ModelFile[], what: string): void {
  const seen = new Map<string, string>();
  for (const file of files) {
    const other = seen.get(file.name);
    if (other) {
      throw new InputError(
        `two ${what}s are named "${file.name}": ${other} and ${file.path}`,
        { file: file.path },
        "dbt needs node names to be unique; rename one.",
      );
    }
    seen.set(file.name, file.path);
  }
}

function baseName(path: string): string {
  return (path.split("/").pop() as string).replace(/\.sql$/, "");
}

function sqlFiles(dir: string, root: string): ProjectFile[] {
  return listFiles(dir, root, /\.sql$/).map((path) => ({
    path,
    text: readFileSync(join(dir, path), "utf8"),
  }));
}

function listFiles(dir: string, root: string, pattern: RegExp): string[] {
  const base = join(dir, root);
  if (!existsSync(base)) return [];
  return (readdirSync(base, { recursive: true }) as string[])
    .filter((name) => pattern.test(name))
    .map((name) => relative(dir, join(base, name)).split(sep).join("/"))
    .sort();
}

export function readYaml(dir: string, path: string): PropertyFile {
  const text = readFileSync(join(dir, path), "utf8");
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  const error = doc.errors[0];
  if (error) {
    throw new InputError(`not valid YAML: ${error.message.split("\n")[0]}`, {
      file: path,
      line: error.linePos?.[0].line,
    });
  }
  return {
    path,
    text,
    data: doc.toJS() ?? {},
    lineOf: (keys) => lineOfPath(doc, counter, keys),
  };
}

function lineOfPath(
  doc: Document,
  counter: LineCounter,
  keys: (string | number)[],
): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const key of keys) {
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => (item.key as { value?: unknown } | null)?.value === key,
      );
      if (!pair) break;
      offset = (pair.key as { range?: [number] } | null)?.range?.[0];
      node = pair.value;
    } else if (isSeq(node) && typeof key === "number") {
      const item = node.items[key] as { range?: [number] } | undefined;
      offset = item?.range?.[0];
      node = item;
    } else break;
  }
  return offset === undefined ? undefined : counter.linePos(offset).line;
}

export function asRecord(
  value: unknown,
  file: PropertyFile,
  path: (string | number)[],
): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InputError(`expected a mapping at ${path.join(".") || "the top level"}`, {
      file: file.path,
      line: file.lineOf(path),
    });
  }
  return value as Record<string, unknown>;
}

function stringField(data: Record<string, unknown>, key: string, file: PropertyFile): string {
  const value = data[key];
  if (typeof value !== "string" || value === "") {
    throw new InputError(`"${key}" must be a non-empty string`, {
      file: file.path,
      line: file.lineOf([key]),
    });
  }
  return value;
}

export function unsupported(
  file: { path: string; lineOf?: (path: (string | number)[]) => number | undefined },
  path: (string | number)[],
  construct: string,
  supported: string,
): InputError {
  return new InputError(
    `${construct} is outside what the built-in dbt runner supports`,
    { file: file.path, line: file.lineOf?.(path) },
    `Supported: ${supported}. Install dbt-core (pip install dbt-duckdb) to run the project as is; see dbt/README.md.`,
  );
}
