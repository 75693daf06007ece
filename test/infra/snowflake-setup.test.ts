/**
 * infra/snowflake/setup.sql: the objects it creates carry the default names the README and the
 * repository variables use, its grants are the least the pipeline needs, and it holds no key
 * material or password.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  SNOWFLAKE_ENV,
  SNOWFLAKE_OIDC_AUDIENCE,
} from "../../pipeline/warehouse/snowflake/config.ts";

/** The names the README's Snowflake section and the script's header tell users to set. */
const EXPECTED = {
  mlops_warehouse: "MLOPS_WH",
  mlops_database: "MLOPS",
  mlops_schema: "SESSION_RECS",
  mlops_role: "MLOPS_PIPELINE",
  mlops_user: "MLOPS_PIPELINE_SVC",
};

let raw: string;
/** Statements outside comments, whitespace collapsed, upper-cased keywords left as written. */
let statements: string[];
let variables: Record<string, string>;

beforeAll(() => {
  raw = readFileSync(new URL("../../infra/snowflake/setup.sql", import.meta.url), "utf8");
  const code = raw
    .split("\n")
    .map((line) => line.replace(/--.*$/, ""))
    .join("\n");
  statements = code
    .split(";")
    .map((s) => s.replace(/\s+/g, " ").trim())
    .filter((s) => s !== "");
  variables = {};
  for (const s of statements) {
    const match = /^SET (\w+) = '([^']*)'$/i.exec(s);
    if (match) variables[match[1]!] = match[2]!;
  }
});

const find = (pattern: RegExp): string[] => statements.filter((s) => pattern.test(s));

describe("infra/snowflake/setup.sql", () => {
  it("sets the default names at the top", () => {
    expect(variables).toEqual(EXPECTED);
    const firstOther = statements.findIndex((s) => !/^SET /i.test(s));
    expect(statements.slice(0, firstOther).length).toBeGreaterThanOrEqual(5);
  });

  it("creates an XSMALL warehouse that suspends after 60 s and starts suspended", () => {
    const [warehouse] = find(/^CREATE WAREHOUSE IF NOT EXISTS IDENTIFIER\(\$mlops_warehouse\)/);
    expect(warehouse).toMatch(/WAREHOUSE_SIZE = XSMALL/);
    expect(warehouse).toMatch(/AUTO_SUSPEND = 60\b/);
    expect(warehouse).toMatch(/INITIALLY_SUSPENDED = TRUE/);
    expect(warehouse).toMatch(/AUTO_RESUME = TRUE/);
  });

  it("creates the database, schema, role and a service user with defaults", () => {
    expect(find(/^CREATE DATABASE IF NOT EXISTS IDENTIFIER\(\$mlops_database\)/)).toHaveLength(1);
    expect(
      find(/^SET mlops_schema_fqn = \$mlops_database \|\| '\.' \|\| \$mlops_schema$/),
    ).toHaveLength(1);
    expect(find(/^CREATE SCHEMA IF NOT EXISTS IDENTIFIER\(\$mlops_schema_fqn\)/)).toHaveLength(1);
    expect(find(/^CREATE ROLE IF NOT EXISTS IDENTIFIER\(\$mlops_role\)/)).toHaveLength(1);
    const [user] = find(/^CREATE USER IF NOT EXISTS IDENTIFIER\(\$mlops_user\)/);
    expect(user).toMatch(/TYPE = SERVICE/);
    expect(user).toMatch(/DEFAULT_ROLE = \$mlops_role/);
    expect(user).toMatch(/DEFAULT_WAREHOUSE = \$mlops_warehouse/);
    expect(user).not.toMatch(/PASSWORD/i);
    expect(find(/^GRANT ROLE IDENTIFIER\(\$mlops_role\) TO ROLE SYSADMIN$/)).toHaveLength(1);
    expect(
      find(/^GRANT ROLE IDENTIFIER\(\$mlops_role\) TO USER IDENTIFIER\(\$mlops_user\)$/),
    ).toHaveLength(1);
  });

  it("grants the least the pipeline needs, and no ownership", () => {
    const grants = find(/^GRANT .* TO ROLE IDENTIFIER\(\$mlops_role\)$/).map((g) =>
      g.replace(/ TO ROLE .*$/, ""),
    );
    expect(grants.sort()).toEqual(
      [
        "GRANT CREATE TABLE ON SCHEMA IDENTIFIER($mlops_schema_fqn)",
        "GRANT CREATE VIEW ON SCHEMA IDENTIFIER($mlops_schema_fqn)",
        "GRANT USAGE ON DATABASE IDENTIFIER($mlops_database)",
        "GRANT USAGE ON SCHEMA IDENTIFIER($mlops_schema_fqn)",
        "GRANT USAGE ON WAREHOUSE IDENTIFIER($mlops_warehouse)",
      ].sort(),
    );
    expect(find(/OWNERSHIP|ALL PRIVILEGES|ACCOUNTADMIN/i)).toEqual([]);
  });

  it("names the SNOWFLAKE_* variables the pipeline reads, with the same values", () => {
    for (const variable of [
      SNOWFLAKE_ENV.user,
      SNOWFLAKE_ENV.role,
      SNOWFLAKE_ENV.warehouse,
      SNOWFLAKE_ENV.database,
      SNOWFLAKE_ENV.schema,
    ]) {
      expect(raw).toContain(`${variable}=`);
    }
    expect(raw).toContain(`SNOWFLAKE_USER=${EXPECTED.mlops_user}`);
    expect(raw).toContain(`SNOWFLAKE_ROLE=${EXPECTED.mlops_role}`);
    expect(raw).toContain(`SNOWFLAKE_WAREHOUSE=${EXPECTED.mlops_warehouse}`);
    expect(raw).toContain(`SNOWFLAKE_DATABASE=${EXPECTED.mlops_database}`);
    expect(raw).toContain(`SNOWFLAKE_SCHEMA=${EXPECTED.mlops_schema}`);
  });

  it("shows key-pair and GitHub OIDC authentication, commented out", () => {
    expect(raw).toMatch(
      /^-- ALTER USER IDENTIFIER\(\$mlops_user\) SET RSA_PUBLIC_KEY = '<[^>]+>';$/m,
    );
    expect(raw).toMatch(/openssl genrsa 2048 \| openssl pkcs8 -topk8/);
    expect(raw).toMatch(/openssl rsa -in \S+ -pubout/);
    expect(raw).toMatch(/^-- ALTER USER IDENTIFIER\(\$mlops_user\) SET WORKLOAD_IDENTITY = \($/m);
    expect(raw).toMatch(/^-- {3}TYPE = OIDC$/m);
    expect(raw).toMatch(/^-- {3}ISSUER = 'https:\/\/token\.actions\.githubusercontent\.com'$/m);
    expect(raw).toMatch(/^-- {3}SUBJECT = 'repo:<owner>\/<name>:pull_request'$/m);
    expect(raw).toContain(SNOWFLAKE_OIDC_AUDIENCE);
    // Nothing that authenticates runs uncommented.
    expect(find(/RSA_PUBLIC_KEY|WORKLOAD_IDENTITY|PASSWORD/i)).toEqual([]);
  });

  it("holds no key material, password or token", () => {
    expect(raw).not.toMatch(/-----BEGIN/);
    // A base64 run as long as an RSA key's (or a JWT's) would be key material.
    expect(raw).not.toMatch(/[A-Za-z0-9+/=]{40,}/);
    expect(raw).not.toMatch(/\beyJ[A-Za-z0-9_-]{10,}/);
    expect(raw).not.toMatch(/PASSWORD\s*=\s*'/i);
    expect(raw).not.toMatch(/(?<!\d)\d{12}(?!\d)/);
  });
});
