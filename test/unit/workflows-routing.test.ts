/**
 * Which runs of pipeline.yml may use the repository's engines: its workflow-level env evaluated
 * as GitHub evaluates it (test/helpers/github-expressions.ts) over the event payloads a template
 * and its forks see. Only a run that gets the secrets and an OIDC token may be routed to AWS and
 * Snowflake; every other one must run on the embedded defaults, with its state local.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "../../scripts/bundle.ts";
import { evaluate, interpolate, type Value } from "../helpers/github-expressions.ts";

const env = (
  parse(readFileSync(join(ROOT, ".github/workflows/pipeline.yml"), "utf8")) as {
    env: Record<string, string>;
  }
).env;

const ENGINES = {
  AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/mlops-pipeline",
  MLOPS_WAREHOUSE: "snowflake",
  MLOPS_S3_STORE: "s3://mlops-runs/template",
};

interface Run {
  event_name: string;
  repository: string;
  actor: string;
  /** The pull request's head repository (null: it was deleted). */
  head?: { full_name: string; fork: boolean } | null;
}

function github(run: Run): Value {
  return {
    event_name: run.event_name,
    repository: run.repository,
    actor: run.actor,
    event:
      run.head === undefined
        ? { ref: "refs/heads/main" }
        : { pull_request: { number: 7, head: { repo: run.head }, user: { login: run.actor } } },
  };
}

function routing(run: Run, vars: Record<string, string> = ENGINES): Record<string, string> {
  const contexts = { github: github(run), vars, secrets: {}, inputs: {} };
  return Object.fromEntries(
    [
      "EMBEDDED_ONLY",
      "USE_AWS",
      "USE_SNOWFLAKE",
      "LOCAL_STATE",
      "MLOPS_STORE",
      "MLOPS_WAREHOUSE",
    ].map((name) => [name, interpolate(env[name] as string, contexts)]),
  );
}

const ON_ENGINES = {
  EMBEDDED_ONLY: "false",
  USE_AWS: "true",
  USE_SNOWFLAKE: "true",
  LOCAL_STATE: "false",
  MLOPS_STORE: ENGINES.MLOPS_S3_STORE,
  MLOPS_WAREHOUSE: "snowflake",
};
const EMBEDDED = {
  EMBEDDED_ONLY: "true",
  USE_AWS: "false",
  USE_SNOWFLAKE: "false",
  LOCAL_STATE: "true",
  MLOPS_STORE: "",
  MLOPS_WAREHOUSE: "",
};

describe("pipeline.yml's routing", () => {
  it.each<[string, Run, Record<string, string>]>([
    [
      "a pull request inside the template",
      {
        event_name: "pull_request",
        repository: "acme/mlops-template",
        actor: "alice",
        head: { full_name: "acme/mlops-template", fork: false },
      },
      ON_ENGINES,
    ],
    [
      // The case `head.repo.fork` got wrong: inside a forked template every head repo is a fork.
      "a pull request inside a fork of the template, between its own branches",
      {
        event_name: "pull_request",
        repository: "bob/mlops-template",
        actor: "bob",
        head: { full_name: "bob/mlops-template", fork: true },
      },
      ON_ENGINES,
    ],
    [
      "a pull request to the fork from a fork of the fork",
      {
        event_name: "pull_request",
        repository: "bob/mlops-template",
        actor: "carol",
        head: { full_name: "carol/mlops-template", fork: true },
      },
      EMBEDDED,
    ],
    [
      "a pull request to the template from a fork",
      {
        event_name: "pull_request",
        repository: "acme/mlops-template",
        actor: "bob",
        head: { full_name: "bob/mlops-template", fork: true },
      },
      EMBEDDED,
    ],
    [
      "a pull request whose head repository was deleted",
      { event_name: "pull_request", repository: "acme/mlops-template", actor: "dan", head: null },
      EMBEDDED,
    ],
    [
      "Dependabot's pull request (a branch of this repository, but no secrets)",
      {
        event_name: "pull_request",
        repository: "acme/mlops-template",
        actor: "dependabot[bot]",
        head: { full_name: "acme/mlops-template", fork: false },
      },
      EMBEDDED,
    ],
    [
      "a push to main",
      { event_name: "push", repository: "acme/mlops-template", actor: "alice" },
      ON_ENGINES,
    ],
    [
      "a manual run",
      { event_name: "workflow_dispatch", repository: "bob/mlops-template", actor: "bob" },
      ON_ENGINES,
    ],
  ])("%s", (_, run, expected) => {
    expect(routing(run)).toEqual(expected);
  });

  it("runs a trusted event on the embedded defaults while no engine variable is set", () => {
    const run: Run = { event_name: "push", repository: "acme/mlops-template", actor: "alice" };
    expect(routing(run, {})).toEqual({ ...EMBEDDED, EMBEDDED_ONLY: "false" });
  });

  it("keeps the state local with S3 but DuckDB (the warehouse file travels between jobs)", () => {
    const run: Run = { event_name: "push", repository: "acme/mlops-template", actor: "alice" };
    const vars = { AWS_ROLE_ARN: ENGINES.AWS_ROLE_ARN, MLOPS_S3_STORE: ENGINES.MLOPS_S3_STORE };
    expect(routing(run, vars)).toMatchObject({
      USE_AWS: "true",
      USE_SNOWFLAKE: "false",
      LOCAL_STATE: "true",
      MLOPS_STORE: ENGINES.MLOPS_S3_STORE,
    });
  });
});

describe("the expression evaluator", () => {
  it("follows GitHub's rules: null paths, operand-valued && and ||, loose case-blind equality", () => {
    const contexts = { github: { event: {} }, vars: { A: "x" } };
    expect(evaluate("github.event.pull_request.head.repo.fork", contexts)).toBe(null);
    expect(evaluate("vars.A && 'yes' || 'no'", contexts)).toBe("yes");
    expect(evaluate("vars.B && 'yes' || 'no'", contexts)).toBe("no");
    expect(evaluate("vars.a == 'X'", contexts)).toBe(true);
    expect(evaluate("null == 0 && '' == 0 && true == 1 && '1' == 1", contexts)).toBe(true);
    expect(evaluate("!(1 < 2) || vars['A'] != 'x'", contexts)).toBe(false);
    expect(evaluate("'it''s'", contexts)).toBe("it's");
    expect(interpolate("${{ vars.B }}-${{ 1 == 1 }}", contexts)).toBe("-true");
    expect(() => evaluate("vars.A ~ 1", contexts)).toThrow(/unexpected/);
  });
});
