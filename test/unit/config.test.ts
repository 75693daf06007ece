import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configDiff, loadConfig } from "../../pipeline/config/config.ts";
import { SETTINGS } from "../../pipeline/config/settings.ts";
import { SERVE_LIMIT_SPECS } from "../../pipeline/config/serve-settings.ts";
import { resolveBatchSettings } from "../../pipeline/compute/batch-settings.ts";
import { SERVE_LIMIT_DEFAULTS } from "../../pipeline/serve/serve-settings.ts";
import { InputError } from "../../pipeline/errors.ts";
import { tempDir } from "../helpers/rows.ts";

const cwd = tempDir();

describe("config layering: defaults < file < env < flags", () => {
  it("uses the defaults when nothing is set", () => {
    const { config, sources } = loadConfig({ env: {}, cwd });
    expect(config.data).toEqual({
      source: "synthetic",
      dir: ".mlops/data",
      sessions: 100_000,
      skus: 10_000,
      seed: 42,
      allowHttp: false,
      downloadMaxBytes: 8 * 2 ** 30,
      downloadMaxUnpackedBytes: 64 * 2 ** 30,
    });
    expect(config.store).toBe(".mlops");
    expect(config.warehouse).toBe("duckdb:.mlops/warehouse.duckdb");
    expect(sources["data.sessions"]).toBe("default");
  });

  it("lets each layer override the one below", () => {
    const file = join(cwd, "layers.yml");
    writeFileSync(file, "data:\n  sessions: 500\n  seed: 7\n  skus: 300\nstore: from-file\n");
    const loaded = loadConfig({
      file,
      env: { MLOPS_SESSIONS: "600", MLOPS_SEED: "8" },
      flags: { "data.sessions": "700" },
      cwd,
    });
    expect(loaded.config.data.sessions).toBe(700);
    expect(loaded.config.data.seed).toBe(8);
    expect(loaded.config.data.skus).toBe(300);
    expect(loaded.config.store).toBe("from-file");
    expect(loaded.sources).toMatchObject({
      "data.sessions": "flag",
      "data.seed": "env",
      "data.skus": "file",
      store: "file",
    });
    expect(configDiff(loaded)).toEqual({
      "data.sessions": { value: 700, from: "flag" },
      "data.seed": { value: 8, from: "env" },
      "data.skus": { value: 300, from: "file" },
      store: { value: "from-file", from: "file" },
    });
  });

  it("reads pipeline.config.yml from the working directory when present, and MLOPS_CONFIG", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "pipeline.config.yml"), "tenant: acme\n");
    expect(loadConfig({ env: {}, cwd: dir }).config.tenant).toBe("acme");
    const other = join(dir, "other.yml");
    writeFileSync(other, "tenant: other\n");
    expect(loadConfig({ env: { MLOPS_CONFIG: other }, cwd: dir }).config.tenant).toBe("other");
  });
});

describe("invalid values name the key, the value, its origin and what is allowed", () => {
  const attempt = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      return error as InputError;
    }
    throw new Error("expected an error");
  };

  it("from the environment", () => {
    const error = attempt(() => loadConfig({ env: { MLOPS_SESSIONS: "lots" }, cwd }));
    expect(error).toBeInstanceOf(InputError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(
      'invalid value "lots" for setting "data.sessions" (from environment variable MLOPS_SESSIONS): expected a positive integer',
    );
  });

  it("from a flag", () => {
    const error = attempt(() => loadConfig({ env: {}, cwd, flags: { "data.source": "ftp" } }));
    expect(error.message).toContain(
      'invalid value "ftp" for setting "data.source" (from flag --source): expected synthetic, csv or download',
    );
  });

  it("from the file, with its line", () => {
    const file = join(cwd, "bad.yml");
    writeFileSync(file, "store: .mlops\ndata:\n  seed: -3\n");
    const error = attempt(() => loadConfig({ file, env: {}, cwd }));
    expect(error.message).toContain(
      `${file}, line 3, field "data.seed": invalid value -3 for setting "data.seed" (from config file`,
    );
    expect(error.message).toContain("expected an integer from 0 to 4294967295");
  });

  it("an unknown key in the file", () => {
    const file = join(cwd, "unknown.yml");
    writeFileSync(file, "data:\n  sesions: 5\n");
    const error = attempt(() => loadConfig({ file, env: {}, cwd }));
    expect(error.message).toContain(
      `${file}, line 2, field "data.sesions": unknown setting "data.sesions"`,
    );
  });

  it("a file that is not YAML", () => {
    const file = join(cwd, "broken.yml");
    writeFileSync(file, "store: [unclosed\n");
    expect(attempt(() => loadConfig({ file, env: {}, cwd })).message).toMatch(
      /broken\.yml.*not valid YAML/,
    );
  });

  it("a warehouse spec that is neither duckdb:PATH nor snowflake", () => {
    const error = attempt(() => loadConfig({ env: { MLOPS_WAREHOUSE: "postgres://x" }, cwd }));
    expect(error.message).toContain("expected duckdb:PATH or snowflake");
  });
});

describe("the settings list", () => {
  it("gives every setting a unique env var and flag", () => {
    const envs = SETTINGS.map((s) => s.env);
    const flags = SETTINGS.flatMap((s) => (s.flag ? [s.flag] : []));
    expect(new Set(envs).size).toBe(envs.length);
    expect(new Set(flags).size).toBe(flags.length);
    expect(envs.every((e) => /^MLOPS_[A-Z0-9_]+$/.test(e))).toBe(true);
  });

  it("gives each default a value its own schema accepts", () => {
    for (const spec of SETTINGS) {
      if (spec.default !== undefined)
        expect(spec.schema.safeParse(spec.default).success, spec.key).toBe(true);
    }
  });

  it("gives the server and AWS Batch a default for every limit their code reads", () => {
    for (const [field, value] of Object.entries(SERVE_LIMIT_DEFAULTS)) {
      expect(typeof value, field).toBe("number");
    }
    expect(Object.keys(SERVE_LIMIT_DEFAULTS)).toHaveLength(SERVE_LIMIT_SPECS.length);
    const batch = resolveBatchSettings({ queue: "q", image: "repo/train:1" }, {});
    for (const field of [
      "vcpus",
      "memoryMiB",
      "gpus",
      "timeoutSeconds",
      "retryAttempts",
    ] as const) {
      expect(typeof batch[field], field).toBe("number");
    }
  });
});

describe("the README", () => {
  it("documents every setting with its env var, flag, default and allowed values", async () => {
    const { readFileSync } = await import("node:fs");
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const rows = readme
      .split("\n")
      .filter((line) => line.startsWith("|"))
      .map((line) =>
        line
          .split("|")
          .slice(1, -1)
          .map((cell) => cell.trim()),
      );
    for (const spec of SETTINGS) {
      const row = rows.find((cells) => cells[0] === `\`${spec.key}\``);
      expect(row, spec.key).toBeDefined();
      const fallback = spec.default;
      expect(row?.slice(1)).toEqual([
        `\`${spec.env}\``,
        `\`${spec.flag ?? ""}\``,
        fallback === undefined ? "—" : `\`${String(fallback)}\``,
        spec.allowed,
        spec.description,
      ]);
    }
  });
});

describe("the README's engine variables", () => {
  it("lists every SNOWFLAKE_* variable the warehouse reads", async () => {
    const { readFileSync } = await import("node:fs");
    const { SNOWFLAKE_ENV } = await import("../../pipeline/warehouse/snowflake/index.ts");
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    for (const variable of Object.values(SNOWFLAKE_ENV))
      expect(readme).toContain(`\`${variable}\``);
  });
});
