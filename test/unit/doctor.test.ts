import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ConnectionOptions } from "snowflake-sdk";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig, type Config } from "../../pipeline/config/config.ts";
import {
  formatDoctor,
  runDoctor,
  type BackendLoaders,
  type DoctorCheck,
  type DoctorOptions,
} from "../../pipeline/doctor.ts";
import { DuckDbWarehouse } from "../../pipeline/warehouse/duckdb.ts";
import type {
  SnowflakeConnection,
  SnowflakeDriver,
} from "../../pipeline/warehouse/snowflake/connection.ts";
import { SESSION_CONTEXT_SQL } from "../../pipeline/warehouse/snowflake/sql.ts";
import { tempDir } from "../helpers/rows.ts";

const PASSWORD = "correct-horse-battery-staple";
const SECRET_KEY = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";

const fail = (why: string) => async () => {
  throw new Error(why);
};
/** No native or wasm backend: auto ends on cpu at once (the real wasm init is slower). */
const CPU_ONLY: BackendLoaders = {
  "node-gpu": fail("Cannot find package '@tensorflow/tfjs-node-gpu' imported from x"),
  node: fail("Cannot find package '@tensorflow/tfjs-node' imported from x"),
  wasm: fail("no wasm here"),
};

let dir: string;
/** A PATH with nothing on it (no dbt, no chromium) and a HOME with no ~/.aws. */
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  dir = tempDir("mlops-doctor-");
  mkdirSync(join(dir, "bin"));
  mkdirSync(join(dir, "home"));
  env = { PATH: join(dir, "bin"), HOME: join(dir, "home") };
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The embedded defaults, with the store and the DuckDB file inside this test's folder. */
function defaults(): Config {
  const { config } = loadConfig({ env: {}, cwd: dir });
  return {
    ...config,
    store: join(dir, "store"),
    warehouse: `duckdb:${join(dir, "store", "warehouse.duckdb")}`,
    card: { screenshot: "off" },
  };
}

function withConfig(patch: (config: Config) => Config): Config {
  return patch(defaults());
}

async function doctor(config: Config, options: DoctorOptions = {}) {
  return runDoctor(config, { env, loaders: CPU_ONLY, ...options });
}

async function check(name: string, config: Config, options: DoctorOptions = {}) {
  const report = await doctor(config, options);
  const found = report.checks.find((c) => c.name === name);
  if (!found) throw new Error(`no ${name} check in ${JSON.stringify(report.checks)}`);
  return { ...found, report };
}

function executable(path: string): string {
  writeFileSync(path, "#!/bin/sh\nexit 0\n");
  chmodSync(path, 0o755);
  return path;
}

function expectFix(c: DoctorCheck, pattern: RegExp): void {
  expect(c.fix).toMatch(pattern);
}

describe("runDoctor", () => {
  it("passes the embedded defaults with a warning for the slow backend, and runs every check", async () => {
    const report = await doctor(defaults());
    expect(report.checks.map((c) => c.name)).toEqual([
      "node",
      "backend",
      "store",
      "warehouse",
      "transform",
      "compute",
      "promote",
      "chromium",
      // The setup levels beyond the embedded defaults: none started here.
      "s3-store",
      "snowflake",
      "batch",
      "sagemaker",
    ]);
    expect(report.checks.map((c) => c.status)).toEqual([
      "ok",
      "warn",
      "ok",
      "ok",
      "ok",
      "ok",
      "ok",
      "skip",
      "skip",
      "skip",
      "skip",
      "skip",
    ]);
    expect(report.ok).toBe(true);
  });

  it("turns a check that throws into a failed check and still runs the others", async () => {
    // A config the loader would never produce: the chromium check cannot read its setting.
    const broken = { ...defaults(), card: undefined } as unknown as Config;
    const report = await doctor(broken);
    expect(report.checks).toHaveLength(12);
    expect(report.checks.find((c) => c.name === "chromium")).toMatchObject({
      name: "chromium",
      status: "fail",
      fix: expect.stringContaining("report this as a bug"),
    });
    expect(report.ok).toBe(false);
  });

  describe("node", () => {
    it("accepts the engines minimum and newer, fails older versions with a fix", async () => {
      expect((await check("node", defaults(), { nodeVersion: "20.6.0" })).status).toBe("ok");
      expect((await check("node", defaults(), { nodeVersion: "22.11.0" })).status).toBe("ok");
      const old = await check("node", defaults(), { nodeVersion: "20.5.1" });
      expect(old).toMatchObject({
        status: "fail",
        detail: expect.stringMatching(/older than 20\.6/),
      });
      expectFix(old, /install Node\.js 20\.6 or newer/);
      expect(old.report.ok).toBe(false);
      expect((await check("node", defaults(), { nodeVersion: "18.19.0" })).status).toBe("fail");
    });
  });

  describe("backend", () => {
    it("warns when auto ends on cpu, saying why the faster ones did not load", async () => {
      const c = await check("backend", defaults());
      expect(c.status).toBe("warn");
      expect(c.detail).toMatch(/^cpu, auto/);
      expect(c.detail).toContain("node-gpu: not installed");
      expect(c.detail).toContain("wasm: no wasm here");
      expectFix(c, /npm install @tensorflow\/tfjs-node@4\.22\.0 for faster local training/);
      expect(c.report.ok).toBe(true);
    });

    it("is ok when a native backend loads", async () => {
      const loaders: BackendLoaders = {
        "node-gpu": fail("libcudart.so.11.0: cannot open shared object file"),
        // tfjs-node is not installed here: the stand-in activates a backend tfjs has.
        node: async () => ({ tfjsName: "cpu" }),
      };
      const c = await check("backend", defaults(), { loaders });
      expect(c.status).toBe("ok");
      expect(c.detail).toMatch(/^node, auto/);
      expect(c.detail).toContain("node-gpu: libcudart.so.11.0");
      expect(c.fix).toBeUndefined();
    });

    it("fails when the explicitly chosen backend cannot load, naming what to install", async () => {
      const config = withConfig((c) => ({ ...c, train: { ...c.train, backend: "node" } }));
      const c = await check("backend", config, { loaders: { node: fail("not installed") } });
      expect(c.status).toBe("fail");
      expect(c.detail).toMatch(/"node" tfjs backend could not be loaded/);
      expectFix(c, /npm install @tensorflow\/tfjs-node@4\.22\.0/);
    });
  });

  describe("store", () => {
    it("writes and deletes a probe in an existing folder", async () => {
      mkdirSync(join(dir, "store"));
      const c = await check("store", defaults());
      expect(c).toMatchObject({ status: "ok", detail: expect.stringMatching(/is writable$/) });
      expect(readdirSync(join(dir, "store"))).toEqual([]);
    });

    it("accepts a folder that does not exist yet without creating it", async () => {
      const config = withConfig((c) => ({ ...c, store: join(dir, "a", "b") }));
      const c = await check("store", config);
      expect(c.status).toBe("ok");
      expect(c.detail).toContain("does not exist yet");
      expect(readdirSync(dir).sort()).toEqual(["bin", "home"]);
    });

    it("fails when the folder would have to be made inside a file", async () => {
      writeFileSync(join(dir, "file"), "x");
      const config = withConfig((c) => ({ ...c, store: join(dir, "file", "store") }));
      const c = await check("store", config);
      expect(c.status).toBe("fail");
      expect(c.detail).toContain("is a file, not a folder");
      expectFix(c, /--store DIR/);
    });

    const s3 = () => withConfig((c) => ({ ...c, store: "s3://mlops-artifacts/team-a" }));

    it("fails an S3 URL whose bucket breaks S3's naming rules", async () => {
      const config = withConfig((c) => ({ ...c, store: "s3://Bad_Bucket/x" }));
      const c = await check("store", config);
      expect(c.status).toBe("fail");
      expect(c.detail).toMatch(/bucket "Bad_Bucket"/);
      expectFix(c, /s3:\/\/bucket\/prefix/);
    });

    it("accepts access keys from the environment and never prints them", async () => {
      const c = await check("store", s3(), {
        env: {
          ...env,
          AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
          AWS_SECRET_ACCESS_KEY: SECRET_KEY,
          AWS_REGION: "eu-west-1",
        },
      });
      expect(c.status).toBe("ok");
      expect(c.detail).toContain("region eu-west-1");
      expect(c.detail).toContain("AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY");
      const text = formatDoctor(c.report) + JSON.stringify(c.report);
      expect(text).not.toContain(SECRET_KEY);
      expect(text).not.toContain("AKIAEXAMPLE");
    });

    it("fails an access key id without its secret", async () => {
      const c = await check("store", s3(), { env: { ...env, AWS_ACCESS_KEY_ID: "AKIAEXAMPLE" } });
      expect(c.status).toBe("fail");
      expect(c.detail).toContain("AWS_SECRET_ACCESS_KEY is not");
      expectFix(c, /set AWS_SECRET_ACCESS_KEY/);
    });

    it("checks a web identity token file and its role", async () => {
      const token = join(dir, "token");
      const noRole = await check("store", s3(), {
        env: { ...env, AWS_WEB_IDENTITY_TOKEN_FILE: token },
      });
      expect(noRole).toMatchObject({
        status: "fail",
        detail: expect.stringContaining("AWS_ROLE_ARN is not"),
      });
      const withRole = {
        ...env,
        AWS_WEB_IDENTITY_TOKEN_FILE: token,
        AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/ci",
      };
      const noFile = await check("store", s3(), { env: withRole });
      expect(noFile).toMatchObject({
        status: "fail",
        detail: expect.stringContaining("does not exist"),
      });
      writeFileSync(token, "jwt");
      expect((await check("store", s3(), { env: withRole })).status).toBe("ok");
    });

    it("fails an AWS_PROFILE that no file defines", async () => {
      const c = await check("store", s3(), { env: { ...env, AWS_PROFILE: "mlops" } });
      expect(c.status).toBe("fail");
      expect(c.detail).toContain("AWS_PROFILE=mlops but no file defines that profile");
      expectFix(c, /aws configure --profile mlops/);
    });

    it("accepts container credentials, a defined profile, or a shared credentials file", async () => {
      const container = await check("store", s3(), {
        env: { ...env, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "/v2/credentials/x" },
      });
      expect(container).toMatchObject({
        status: "ok",
        detail: expect.stringContaining("container"),
      });
      mkdirSync(join(dir, "home", ".aws"));
      writeFileSync(join(dir, "home", ".aws", "config"), "[profile mlops]\nregion = eu-west-1\n");
      const profile = await check("store", s3(), { env: { ...env, AWS_PROFILE: "mlops" } });
      expect(profile).toMatchObject({
        status: "ok",
        detail: expect.stringContaining("AWS_PROFILE=mlops"),
      });
      writeFileSync(join(dir, "home", ".aws", "credentials"), "[default]\n");
      const file = await check("store", s3());
      expect(file).toMatchObject({
        status: "ok",
        detail: expect.stringContaining(".aws/credentials"),
      });
    });

    it("warns when no credentials can be found without calling AWS", async () => {
      const c = await check("store", s3());
      expect(c.status).toBe("warn");
      expect(c.detail).toContain("no AWS credentials");
      expectFix(c, /configure-aws-credentials/);
      expect(c.report.ok).toBe(true);
    });
  });

  describe("warehouse: duckdb", () => {
    it("opens an existing file and runs select 1 when probing", async () => {
      const path = join(dir, "wh.duckdb");
      const wh = await DuckDbWarehouse.open(path);
      await wh.query("create table t as select 1 as x");
      await wh.close();
      const config = withConfig((c) => ({ ...c, warehouse: `duckdb:${path}` }));
      const c = await check("warehouse", config, { probeWarehouse: true });
      expect(c).toMatchObject({
        status: "ok",
        detail: expect.stringContaining("opened it and ran select 1"),
      });
      const settingsOnly = await check("warehouse", config);
      expect(settingsOnly.detail).not.toContain("select 1");
    });

    it("does not create a missing file when probing", async () => {
      const path = join(dir, "new", "wh.duckdb");
      const config = withConfig((c) => ({ ...c, warehouse: `duckdb:${path}` }));
      const c = await check("warehouse", config, { probeWarehouse: true });
      expect(c).toMatchObject({
        status: "ok",
        detail: expect.stringContaining("does not exist yet"),
      });
      expect(readdirSync(dir).sort()).toEqual(["bin", "home"]);
    });

    it("fails a file that is not a DuckDB database, a folder, or a path inside a file", async () => {
      const junk = join(dir, "junk.duckdb");
      writeFileSync(junk, "this is not a database file, just some text long enough to be read");
      const bad = await check(
        "warehouse",
        withConfig((c) => ({ ...c, warehouse: `duckdb:${junk}` })),
        {
          probeWarehouse: true,
        },
      );
      expect(bad.status).toBe("fail");
      expect(bad.detail).toContain(junk);
      expectFix(bad, /npm ci|delete/);

      const folder = await check(
        "warehouse",
        withConfig((c) => ({ ...c, warehouse: `duckdb:${dir}` })),
      );
      expect(folder).toMatchObject({
        status: "fail",
        detail: expect.stringContaining("is a folder"),
      });

      const inFile = await check(
        "warehouse",
        withConfig((c) => ({ ...c, warehouse: `duckdb:${join(junk, "x.duckdb")}` })),
      );
      expect(inFile).toMatchObject({
        status: "fail",
        detail: expect.stringContaining("is a file"),
      });
      expectFix(inFile, /--warehouse duckdb:PATH/);
    });

    it("fails an unknown warehouse spec", async () => {
      const c = await check(
        "warehouse",
        withConfig((c) => ({ ...c, warehouse: "postgres" })),
      );
      expect(c).toMatchObject({ status: "fail", detail: 'unknown warehouse "postgres"' });
    });
  });

  describe("warehouse: snowflake", () => {
    const snowflake = () => withConfig((c) => ({ ...c, warehouse: "snowflake" }));
    const location = {
      SNOWFLAKE_ACCOUNT: "myorg-myaccount",
      SNOWFLAKE_WAREHOUSE: "LOAD_WH",
      SNOWFLAKE_DATABASE: "MLOPS",
      SNOWFLAKE_SCHEMA: "RAW",
    };

    it("names every missing variable and the missing credentials at once", async () => {
      const c = await check("warehouse", snowflake(), {
        env: { ...env, SNOWFLAKE_ACCOUNT: "myorg-x" },
      });
      expect(c.status).toBe("fail");
      expect(c.detail).toBe(
        "missing SNOWFLAKE_WAREHOUSE, SNOWFLAKE_DATABASE, SNOWFLAKE_SCHEMA; no Snowflake credentials are set",
      );
      expectFix(
        c,
        /^set SNOWFLAKE_WAREHOUSE, SNOWFLAKE_DATABASE, SNOWFLAKE_SCHEMA .*; set SNOWFLAKE_PASSWORD/,
      );
    });

    it("asks for the user with password auth, and never prints the password", async () => {
      const c = await check("warehouse", snowflake(), {
        env: { ...env, ...location, SNOWFLAKE_PASSWORD: PASSWORD },
      });
      expect(c).toMatchObject({ status: "fail", detail: "missing SNOWFLAKE_USER" });
      expect(formatDoctor(c.report) + JSON.stringify(c.report)).not.toContain(PASSWORD);
    });

    it("reports contradictory credentials with the module's own message", async () => {
      const c = await check("warehouse", snowflake(), {
        env: {
          ...env,
          ...location,
          SNOWFLAKE_USER: "LOADER",
          SNOWFLAKE_PASSWORD: PASSWORD,
          SNOWFLAKE_PRIVATE_KEY_PATH: "/k.p8",
        },
      });
      expect(c.status).toBe("fail");
      expect(c.detail).toMatch(/more than one authentication method/);
      expect(formatDoctor(c.report)).not.toContain(PASSWORD);
    });

    it("fails a key-pair path that does not exist, and accepts one that does", async () => {
      const key = join(dir, "rsa_key.p8");
      const keyEnv = {
        ...env,
        ...location,
        SNOWFLAKE_USER: "LOADER",
        SNOWFLAKE_PRIVATE_KEY_PATH: key,
      };
      const missing = await check("warehouse", snowflake(), { env: keyEnv });
      expect(missing).toMatchObject({
        status: "fail",
        detail: expect.stringContaining("does not exist"),
      });
      writeFileSync(key, "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n");
      const present = await check("warehouse", snowflake(), { env: keyEnv });
      expect(present.status).toBe("ok");
      expect(present.detail).toContain("key pair");
      expect(present.detail).toContain("not contacted");
    });

    it("accepts workload identity without a user", async () => {
      const c = await check("warehouse", snowflake(), {
        env: {
          ...env,
          ...location,
          SNOWFLAKE_AUTHENTICATOR: "oidc",
          SNOWFLAKE_WORKLOAD_IDENTITY_PROVIDER: "AWS",
        },
      });
      expect(c).toMatchObject({
        status: "ok",
        detail: expect.stringContaining("workload identity (AWS)"),
      });
    });

    /** A Snowflake stand-in: answers the session check and `select 1`, or refuses the login. */
    class StandIn implements SnowflakeDriver {
      readonly sent: string[] = [];
      readonly logins: ConnectionOptions[] = [];
      closed = 0;
      constructor(private readonly refuse?: Error) {}
      async connect(options: ConnectionOptions): Promise<SnowflakeConnection> {
        this.logins.push(options);
        if (this.refuse) throw this.refuse;
        return {
          execute: async (sql) => {
            this.sent.push(sql);
            return sql === SESSION_CONTEXT_SQL
              ? [{ warehouse: "LOAD_WH", database: "MLOPS", schema: "RAW", role: "LOADER_ROLE" }]
              : [{ ONE: 1 }];
          },
          destroy: async () => {
            this.closed++;
          },
        };
      }
    }
    const passwordEnv = () => ({
      ...env,
      ...location,
      SNOWFLAKE_USER: "LOADER",
      SNOWFLAKE_PASSWORD: PASSWORD,
    });

    it("logs in, runs select 1 and closes the session when probing", async () => {
      const driver = new StandIn();
      const c = await check("warehouse", snowflake(), {
        env: passwordEnv(),
        probeWarehouse: true,
        snowflakeDriver: driver,
      });
      expect(c).toMatchObject({
        status: "ok",
        detail: expect.stringContaining("logged in and ran select 1"),
      });
      expect(driver.sent).toEqual([SESSION_CONTEXT_SQL, "select 1 as one"]);
      expect(driver.logins).toMatchObject([{ account: "myorg-myaccount", username: "LOADER" }]);
      expect(driver.closed).toBe(1);
      expect(formatDoctor(c.report)).not.toContain(PASSWORD);
    });

    it("fails a refused login once (no retries), without printing the password", async () => {
      const refused = Object.assign(
        new Error(`Incorrect username or password was specified (${PASSWORD})`),
        {
          code: 390100,
        },
      );
      const driver = new StandIn(refused);
      const c = await check("warehouse", snowflake(), {
        env: passwordEnv(),
        probeWarehouse: true,
        snowflakeDriver: driver,
      });
      expect(c.status).toBe("fail");
      expect(c.detail).toMatch(/Incorrect username or password/);
      expect(c.fix).toBeDefined();
      expect(driver.logins).toHaveLength(1);
      expect(formatDoctor(c.report) + JSON.stringify(c.report)).not.toContain(PASSWORD);
    });

    it("reports a network failure at once instead of waiting out retries", async () => {
      const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
      const driver = new StandIn(reset);
      const c = await check("warehouse", snowflake(), {
        env: passwordEnv(),
        probeWarehouse: true,
        snowflakeDriver: driver,
      });
      expect(c).toMatchObject({
        status: "fail",
        detail: expect.stringContaining("socket hang up"),
      });
      expect(driver.logins).toHaveLength(1);
    });
  });

  describe("transform", () => {
    it("uses the built-in runner on DuckDB when dbt is not on PATH", async () => {
      const c = await check("transform", defaults());
      expect(c).toMatchObject({
        status: "ok",
        detail: expect.stringContaining("built-in dbt-compatible runner"),
      });
    });

    it("finds dbt-core on PATH", async () => {
      const dbt = executable(join(dir, "bin", "dbt"));
      const c = await check("transform", defaults());
      expect(c).toMatchObject({ status: "ok", detail: `dbt-core at ${dbt}` });
    });

    it("fails Snowflake without dbt-core, and an explicit dbt path that does not exist", async () => {
      const snowflake = await check(
        "transform",
        withConfig((c) => ({ ...c, warehouse: "snowflake" })),
      );
      expect(snowflake.status).toBe("fail");
      expectFix(snowflake, /pip install dbt-snowflake/);
      const config = withConfig((c) => ({
        ...c,
        transform: { ...c.transform, dbt: join(dir, "nope", "dbt") },
      }));
      const explicit = await check("transform", config);
      expect(explicit).toMatchObject({
        status: "fail",
        detail: expect.stringContaining("does not exist"),
      });
      expectFix(explicit, /MLOPS_DBT/);
    });
  });

  describe("compute", () => {
    const batch = (patch: Partial<Config> = {}, values: Config["compute"]["batch"] = {}) =>
      withConfig((c) => ({
        ...c,
        ...patch,
        train: { ...c.train, compute: "batch" },
        compute: { batch: { ...c.compute.batch, ...values } },
      }));

    it("names every reason batch cannot run from a local setup", async () => {
      const c = await check("compute", batch());
      expect(c.status).toBe("fail");
      expect(c.detail).toContain("cannot write to the local store");
      expect(c.detail).toContain("cannot reach the warehouse duckdb:");
      expect(c.detail).toContain("no AWS Batch job queue is set");
      expectFix(
        c,
        /--store s3:\/\/bucket\/prefix.*--warehouse snowflake.*MLOPS_BATCH_QUEUE.*--compute local$/,
      );
    });

    it("reports invalid batch settings with resolveBatchSettings's message", async () => {
      const c = await check(
        "compute",
        batch(
          { store: "s3://mlops-artifacts", warehouse: "snowflake" },
          { queue: "gpu-queue", image: "bad image!" },
        ),
      );
      expect(c.status).toBe("fail");
      expect(c.detail).toMatch(/invalid image "bad image!"/);
    });

    it("accepts a complete batch setup without calling AWS", async () => {
      const c = await check(
        "compute",
        batch(
          { store: "s3://mlops-artifacts", warehouse: "snowflake" },
          { queue: "gpu-queue", image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/train:1.0" },
        ),
        { env: { ...env, AWS_REGION: "eu-west-1" } },
      );
      expect(c).toMatchObject({
        status: "ok",
        detail: expect.stringContaining("queue gpu-queue in eu-west-1"),
      });
    });
  });

  describe("promote", () => {
    const IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/recs-serve:1.0";
    const ROLE = "arn:aws:iam::123456789012:role/sagemaker-exec";
    const sagemaker = (store: string, extra: Partial<Config["promote"]["sagemaker"]> = {}) =>
      withConfig((c) => ({
        ...c,
        store,
        promote: {
          ...c.promote,
          target: "sagemaker",
          sagemaker: { ...c.promote.sagemaker, ...extra },
        },
      }));

    it("names what sagemaker needs and is missing", async () => {
      const c = await check("promote", sagemaker(join(dir, "store")));
      expect(c.status).toBe("fail");
      expect(c.detail).toContain("MLOPS_SAGEMAKER_IMAGE");
      expect(c.detail).toContain("MLOPS_SAGEMAKER_ROLE_ARN");
      expect(c.detail).toContain("MLOPS_SAGEMAKER_MODEL_DATA");
      expectFix(c, /--target local/);
    });

    it("reports invalid settings with validateSageMakerSettings's message", async () => {
      const c = await check(
        "promote",
        sagemaker("s3://mlops-artifacts", { image: IMAGE, roleArn: "not-an-arn" }),
      );
      expect(c.status).toBe("fail");
      expect(c.detail).toMatch(/promote\.sagemaker\.role: "not-an-arn" is not an IAM role ARN/);
      expectFix(c, /MLOPS_SAGEMAKER_/);
    });

    it("accepts a complete setup: model data from the S3 store or set explicitly", async () => {
      const fromStore = await check(
        "promote",
        sagemaker("s3://mlops-artifacts/team", { image: IMAGE, roleArn: ROLE }),
      );
      expect(fromStore).toMatchObject({
        status: "ok",
        detail: expect.stringContaining("model data s3://mlops-artifacts/team/sagemaker-models"),
      });
      // With a local store, the store check says nothing about AWS: this one does.
      const local = sagemaker(join(dir, "store"), {
        image: IMAGE,
        roleArn: ROLE,
        modelData: "s3://models-bucket/m",
      });
      const noCredentials = await check("promote", local);
      expect(noCredentials).toMatchObject({
        status: "warn",
        detail: expect.stringContaining("no AWS credentials"),
      });
      const keys = { ...env, AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: SECRET_KEY };
      expect((await check("promote", local, { env: keys })).status).toBe("ok");
    });
  });

  describe("chromium", () => {
    const screenshot = (mode: Config["card"]["screenshot"]) =>
      withConfig((c) => ({ ...c, card: { screenshot: mode } }));

    it("finds chromium on PATH or at CHROMIUM_PATH", async () => {
      const onPath = executable(join(dir, "bin", "chromium"));
      expect(await check("chromium", screenshot("auto"))).toMatchObject({
        status: "ok",
        detail: expect.stringContaining(onPath),
      });
      const elsewhere = executable(join(dir, "chrome"));
      const c = await check("chromium", screenshot("on"), {
        env: { ...env, CHROMIUM_PATH: elsewhere },
      });
      expect(c).toMatchObject({ status: "ok", detail: expect.stringContaining(elsewhere) });
    });

    it("warns when missing in auto mode, fails when the screenshot is required", async () => {
      const auto = await check("chromium", screenshot("auto"));
      expect(auto.status).toBe("warn");
      expectFix(auto, /apt-get install chromium/);
      expect(auto.report.ok).toBe(true);
      const on = await check("chromium", screenshot("on"), {
        env: { ...env, CHROMIUM_PATH: join(dir, "none") },
      });
      expect(on).toMatchObject({
        status: "fail",
        detail: expect.stringContaining("is not an executable file"),
      });
      expect(on.report.ok).toBe(false);
    });
  });
});

describe("formatDoctor", () => {
  it("aligns the columns and lists the fixes of the checks that are not ok", () => {
    const text = formatDoctor({
      ok: false,
      checks: [
        { name: "node", status: "ok", detail: "Node 22" },
        {
          name: "warehouse",
          status: "fail",
          detail: "missing SNOWFLAKE_USER",
          fix: "set SNOWFLAKE_USER",
        },
        { name: "chromium", status: "warn", detail: "not found", fix: "apt-get install chromium" },
        { name: "x", status: "skip", detail: "off" },
      ],
    });
    const rows = text.split("\n").slice(0, 6);
    expect(rows[0]).toMatch(/^check\s+status\s+detail$/);
    const column = rows[0]?.indexOf("detail");
    for (const row of rows.slice(2))
      expect(row.indexOf(row.trim().split(/\s{2,}/)[2] ?? "?")).toBe(column);
    expect(text).toContain("  warehouse (fail): set SNOWFLAKE_USER");
    expect(text).toContain("  chromium (warn): apt-get install chromium");
    expect(text).not.toContain("node (ok)");
    expect(text.trim().split("\n").at(-1)).toBe(
      "not ready: 1 ok, 1 warning(s), 1 failed, 1 skipped",
    );
  });
});
