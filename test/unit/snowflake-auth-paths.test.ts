/**
 * Every Snowflake authentication the pipeline's connection accepts (password, key text, key file,
 * workload identity) reaches dbt-core's profile too, and in GitHub Actions the OIDC token that
 * workload identity needs is minted from the job's own: requested over real HTTP from a loopback
 * stand-in for GitHub's token endpoint, as @actions/core requests it.
 */
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import * as core from "@actions/core";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { provideSnowflakeToken } from "../../actions/common/snowflake-token.ts";
import { dbtTargetFor } from "../../pipeline/transform/dbt-core.ts";
import {
  SNOWFLAKE_ENV,
  needsOidcToken,
  snowflakeSettingsFromEnv,
} from "../../pipeline/warehouse/snowflake/config.ts";
import { ROOT } from "../../scripts/bundle.ts";

const BASE = {
  SNOWFLAKE_ACCOUNT: "myorg-myaccount",
  SNOWFLAKE_WAREHOUSE: "MLOPS_WH",
  SNOWFLAKE_DATABASE: "MLOPS",
  SNOWFLAKE_SCHEMA: "RAW",
};
const PEM = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n";

type Output = Record<string, string>;
const outputs = (
  parse(readFileSync(join(ROOT, "dbt", "profiles.yml"), "utf8")) as {
    mlops_session_recs: { outputs: Record<string, Output> };
  }
).mlops_session_recs.outputs;

/** The variables a profile value reads: `{{ env_var('NAME', …) }}`. */
const variablesOf = (output: Output) =>
  Object.values(output).flatMap((value) =>
    [...String(value).matchAll(/env_var\('([A-Z_]+)'/g)].map((m) => m[1] as string),
  );

describe("dbt-core's Snowflake profiles", () => {
  it.each([
    ["a password", { SNOWFLAKE_USER: "MLOPS", SNOWFLAKE_PASSWORD: "pw" }, "snowflake"],
    ["the key's text", { SNOWFLAKE_USER: "MLOPS", SNOWFLAKE_PRIVATE_KEY: PEM }, "snowflake"],
    [
      "a key file",
      { SNOWFLAKE_USER: "MLOPS", SNOWFLAKE_PRIVATE_KEY_PATH: "/keys/rsa.p8" },
      "snowflake",
    ],
    [
      "workload identity with an OIDC token",
      { SNOWFLAKE_AUTHENTICATOR: "oidc", SNOWFLAKE_TOKEN: "eyJ.x.y" },
      "snowflake_workload_identity",
    ],
    [
      "workload identity attested by AWS",
      { SNOWFLAKE_WORKLOAD_IDENTITY_PROVIDER: "aws" },
      "snowflake_workload_identity",
    ],
  ])("%s: the connection's settings pick the target that reads them", (_, env, target) => {
    const settings = snowflakeSettingsFromEnv({ ...BASE, ...env });
    expect(dbtTargetFor(settings.auth)).toBe(target);
    const profile = outputs[target] as Output;
    expect(profile.type).toBe("snowflake");
    const read = variablesOf(profile);
    for (const name of Object.keys(env).filter((n) => n !== "SNOWFLAKE_AUTHENTICATOR")) {
      expect(read, `${target} reads ${name}`).toContain(name);
    }
  });

  it("read only variables the pipeline's connection reads, and every credential variable", () => {
    const known = new Set<string>(Object.values(SNOWFLAKE_ENV));
    const password = outputs.snowflake as Output;
    const identity = outputs.snowflake_workload_identity as Output;
    for (const name of [...variablesOf(password), ...variablesOf(identity)]) {
      expect(known, name).toContain(name);
    }
    expect(variablesOf(password)).toEqual(
      expect.arrayContaining([
        SNOWFLAKE_ENV.password,
        SNOWFLAKE_ENV.privateKey,
        SNOWFLAKE_ENV.privateKeyPath,
        SNOWFLAKE_ENV.passphrase,
      ]),
    );
    expect(identity.authenticator).toBe("workload_identity");
    expect(variablesOf(identity)).toEqual(
      expect.arrayContaining([SNOWFLAKE_ENV.token, SNOWFLAKE_ENV.provider]),
    );
    // PEM text from a secret may carry a trailing newline; dbt wants it to start with "-".
    expect(password.private_key).toContain("| trim");
  });

  it("keep DuckDB on its own target", () => {
    expect(dbtTargetFor("duckdb")).toBe("duckdb");
    expect(outputs.duckdb?.type).toBe("duckdb");
  });
});

describe("the OIDC token in GitHub Actions", () => {
  it.each<[string, Record<string, string>, boolean]>([
    ["authenticator oidc, no token", { SNOWFLAKE_AUTHENTICATOR: "oidc" }, true],
    [
      "workload_identity with provider OIDC",
      {
        SNOWFLAKE_AUTHENTICATOR: "WORKLOAD_IDENTITY",
        SNOWFLAKE_WORKLOAD_IDENTITY_PROVIDER: "oidc",
      },
      true,
    ],
    ["provider OIDC alone", { SNOWFLAKE_WORKLOAD_IDENTITY_PROVIDER: "OIDC" }, true],
    ["a token already set", { SNOWFLAKE_AUTHENTICATOR: "oidc", SNOWFLAKE_TOKEN: "t" }, false],
    ["provider AWS (attests itself)", { SNOWFLAKE_WORKLOAD_IDENTITY_PROVIDER: "AWS" }, false],
    ["a password", { SNOWFLAKE_PASSWORD: "pw" }, false],
    ["key-pair named", { SNOWFLAKE_AUTHENTICATOR: "keypair", SNOWFLAKE_PRIVATE_KEY: PEM }, false],
    ["nothing set", {}, false],
  ])("%s: minted %s", (_, env, wanted) => {
    expect(needsOidcToken({ ...BASE, ...env })).toBe(wanted);
  });

  const saved = { ...process.env };
  afterEach(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  it("is requested from the job's token endpoint for Snowflake's audience, masked, and read by the connection", async () => {
    const requests: { url: string; authorization: string | undefined }[] = [];
    const server = createServer((req, res) => {
      requests.push({ url: req.url ?? "", authorization: req.headers.authorization });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ value: "eyJhbGciOiJSUzI1NiJ9.github.sig" }));
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    try {
      // @actions/core reads these two from the process environment, as on a runner.
      process.env.ACTIONS_ID_TOKEN_REQUEST_URL = `http://127.0.0.1:${port}/token?api-version=2.0`;
      process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = "runner-request-token";
      const env: NodeJS.ProcessEnv = {
        ...BASE,
        SNOWFLAKE_AUTHENTICATOR: "oidc",
        ACTIONS_ID_TOKEN_REQUEST_URL: process.env.ACTIONS_ID_TOKEN_REQUEST_URL,
      };
      const masked: string[] = [];
      const minted = await provideSnowflakeToken(
        env,
        (audience) => core.getIDToken(audience),
        (secret) => masked.push(secret),
      );
      expect(minted).toBe(true);
      expect(requests).toHaveLength(1);
      expect(requests[0]?.url).toBe("/token?api-version=2.0&audience=snowflakecomputing.com");
      expect(requests[0]?.authorization).toBe("Bearer runner-request-token");
      expect(env.SNOWFLAKE_TOKEN).toBe("eyJhbGciOiJSUzI1NiJ9.github.sig");
      expect(masked).toEqual(["eyJhbGciOiJSUzI1NiJ9.github.sig"]);
      expect(snowflakeSettingsFromEnv(env).auth).toEqual({
        kind: "oidc",
        provider: "OIDC",
        token: "eyJhbGciOiJSUzI1NiJ9.github.sig",
      });
      expect(dbtTargetFor(snowflakeSettingsFromEnv(env).auth)).toBe("snowflake_workload_identity");

      // Another audience, when the Snowflake user was created with one.
      const other: NodeJS.ProcessEnv = {
        ...env,
        SNOWFLAKE_TOKEN: "",
        SNOWFLAKE_OIDC_AUDIENCE: "api://mlops",
      };
      await provideSnowflakeToken(
        other,
        (audience) => core.getIDToken(audience),
        () => {},
      );
      expect(requests[1]?.url).toBe("/token?api-version=2.0&audience=api%3A%2F%2Fmlops");
    } finally {
      server.close();
    }
  });

  it("is not requested outside a job that may mint one, or for another method", async () => {
    let calls = 0;
    const mint = async () => {
      calls++;
      return "never";
    };
    expect(
      await provideSnowflakeToken({ ...BASE, SNOWFLAKE_AUTHENTICATOR: "oidc" }, mint, () => {}),
    ).toBe(false);
    const inJob = { ACTIONS_ID_TOKEN_REQUEST_URL: "http://127.0.0.1:1/token" };
    expect(
      await provideSnowflakeToken({ ...BASE, ...inJob, SNOWFLAKE_PASSWORD: "pw" }, mint, () => {}),
    ).toBe(false);
    expect(calls).toBe(0);
  });
});
