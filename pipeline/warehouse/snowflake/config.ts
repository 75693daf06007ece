/**
 * Snowflake settings: one typed object, read from the environment, and turned into
 * snowflake-sdk's connection options. Secrets live only in `auth`; everything printed
 * (`describeSnowflake`, error messages) is built from the other fields.
 */
import type { ConnectionOptions } from "snowflake-sdk";
import { InputError } from "../../errors.ts";
import { validateIdentifier } from "../identifiers.ts";

/** snowflake-sdk's `workloadIdentityProvider` values (WorkloadIdentityProviderKey in 3.x). */
export const WORKLOAD_IDENTITY_PROVIDERS = ["AWS", "AZURE", "GCP", "OIDC"] as const;
export type WorkloadIdentityProvider = (typeof WORKLOAD_IDENTITY_PROVIDERS)[number];

export type SnowflakeAuth =
  | { kind: "password"; password: string }
  | {
      kind: "keypair";
      /** A PKCS#8 (or PKCS#1) PEM file on disk. Exactly one of privateKeyPath / privateKey. */
      privateKeyPath?: string;
      /** The PEM text itself (a CI secret). */
      privateKey?: string;
      passphrase?: string;
    }
  | {
      kind: "oidc";
      /**
       * Workload identity federation (snowflake-sdk's WORKLOAD_IDENTITY authenticator). With
       * provider OIDC the token is the identity provider's JWT (e.g. a GitHub Actions ID token);
       * with AWS, AZURE or GCP the SDK fetches the attestation from the cloud it runs in.
       */
      provider: WorkloadIdentityProvider;
      token?: string;
    };

export interface SnowflakeSettings {
  /** Account identifier (`orgname-account` or a locator such as `xy12345.eu-west-1`). */
  account: string;
  /** Login name; optional only for workload identity, where the identity names the user. */
  user?: string;
  role?: string;
  warehouse: string;
  database: string;
  schema: string;
  auth: SnowflakeAuth;
}

/** Every environment variable read here, for docs and error messages. */
export const SNOWFLAKE_ENV = {
  account: "SNOWFLAKE_ACCOUNT",
  user: "SNOWFLAKE_USER",
  password: "SNOWFLAKE_PASSWORD",
  privateKeyPath: "SNOWFLAKE_PRIVATE_KEY_PATH",
  privateKey: "SNOWFLAKE_PRIVATE_KEY",
  passphrase: "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
  authenticator: "SNOWFLAKE_AUTHENTICATOR",
  token: "SNOWFLAKE_TOKEN",
  provider: "SNOWFLAKE_WORKLOAD_IDENTITY_PROVIDER",
  role: "SNOWFLAKE_ROLE",
  warehouse: "SNOWFLAKE_WAREHOUSE",
  database: "SNOWFLAKE_DATABASE",
  schema: "SNOWFLAKE_SCHEMA",
} as const;

const E = SNOWFLAKE_ENV;

/** Account identifiers: org-account names and legacy locators with region/cloud segments. */
const ACCOUNT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;

/** Names accepted in SNOWFLAKE_AUTHENTICATOR, including snowflake-sdk's own spellings. */
const AUTHENTICATOR_ALIASES: Record<string, SnowflakeAuth["kind"]> = {
  password: "password",
  snowflake: "password",
  keypair: "keypair",
  "key-pair": "keypair",
  key_pair: "keypair",
  jwt: "keypair",
  snowflake_jwt: "keypair",
  oidc: "oidc",
  workload_identity: "oidc",
  wif: "oidc",
};

/** The audience Snowflake expects of an OIDC ID token unless its user says otherwise. */
export const SNOWFLAKE_OIDC_AUDIENCE = "snowflakecomputing.com";

/**
 * Whether the SNOWFLAKE_* variables ask for workload identity with provider OIDC (named by
 * SNOWFLAKE_AUTHENTICATOR or SNOWFLAKE_WORKLOAD_IDENTITY_PROVIDER) and hold no token yet: the
 * caller may mint one (GitHub Actions' ID token) before the settings are read.
 */
export function needsOidcToken(env: NodeJS.ProcessEnv): boolean {
  const get = (name: string) => env[name]?.trim() || undefined;
  if (get(E.token) !== undefined) return false;
  const authenticator = get(E.authenticator)?.toLowerCase();
  const provider = get(E.provider)?.toUpperCase();
  const oidc =
    authenticator !== undefined
      ? AUTHENTICATOR_ALIASES[authenticator] === "oidc"
      : provider !== undefined;
  return oidc && (provider ?? "OIDC") === "OIDC";
}

function settingError(variable: string, message: string, hint: string): InputError {
  return new InputError(message, { field: variable }, hint);
}

/**
 * Reads the SNOWFLAKE_* variables. Empty values count as unset (GitHub Actions passes a missing
 * secret as ""). Missing or contradictory settings throw an InputError that names the variable
 * and says what to set; no message ever contains a secret's value.
 */
export function snowflakeSettingsFromEnv(env: NodeJS.ProcessEnv): SnowflakeSettings {
  const get = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === "" ? undefined : value;
  };
  const required = (name: string, what: string): string => {
    const value = get(name);
    if (value === undefined) {
      throw settingError(
        name,
        `${name} is not set: the Snowflake warehouse needs the ${what}`,
        `Set ${name} (a repository secret or variable in CI), or use --warehouse duckdb:PATH.`,
      );
    }
    return value.trim();
  };

  const settings: SnowflakeSettings = {
    account: required(E.account, "account identifier (e.g. myorg-myaccount)"),
    warehouse: required(E.warehouse, "virtual warehouse that runs the loads"),
    database: required(E.database, "database that holds the raw tables"),
    schema: required(E.schema, "schema that holds the raw tables"),
    auth: authFromEnv(get),
  };
  const role = get(E.role);
  if (role !== undefined) settings.role = role.trim();
  const user = get(E.user);
  if (user !== undefined) settings.user = user.trim();
  validateSnowflakeSettings(settings);
  return settings;
}

function authFromEnv(get: (name: string) => string | undefined): SnowflakeAuth {
  const password = get(E.password);
  const keyPath = get(E.privateKeyPath);
  const key = get(E.privateKey);
  const passphrase = get(E.passphrase);
  const token = get(E.token);
  const providerText = get(E.provider);

  // What each kind's own variables say: used to infer the kind and to catch contradictions.
  const present: Record<SnowflakeAuth["kind"], string[]> = {
    password: setNames([E.password, password]),
    keypair: setNames([E.privateKeyPath, keyPath], [E.privateKey, key]),
    oidc: setNames([E.token, token], [E.provider, providerText]),
  };

  const authenticator = get(E.authenticator);
  let kind: SnowflakeAuth["kind"];
  if (authenticator !== undefined) {
    const named = AUTHENTICATOR_ALIASES[authenticator.trim().toLowerCase()];
    if (!named) {
      throw settingError(
        E.authenticator,
        `${E.authenticator}="${authenticator.trim()}" is not an authenticator this pipeline supports`,
        `Use password, keypair (SNOWFLAKE_JWT) or oidc (WORKLOAD_IDENTITY), or unset it to infer from the credentials present.`,
      );
    }
    kind = named;
    const others = (Object.keys(present) as SnowflakeAuth["kind"][])
      .filter((k) => k !== kind)
      .flatMap((k) => present[k]);
    if (others.length > 0) {
      throw settingError(
        E.authenticator,
        `${E.authenticator}=${authenticator.trim()} but ${others.join(" and ")} ${others.length > 1 ? "are" : "is"} also set: the settings contradict each other`,
        `Unset ${others.join(", ")}, or change ${E.authenticator} to the method you mean.`,
      );
    }
  } else {
    const kinds = (Object.keys(present) as SnowflakeAuth["kind"][]).filter(
      (k) => present[k].length > 0,
    );
    if (kinds.length === 0) {
      throw settingError(
        E.password,
        "no Snowflake credentials are set",
        `Set ${E.password}; or ${E.privateKeyPath} / ${E.privateKey} for key-pair auth; or ${E.authenticator}=oidc with ${E.provider} (and ${E.token} for provider OIDC).`,
      );
    }
    if (kinds.length > 1) {
      const vars = kinds.flatMap((k) => present[k]);
      throw settingError(
        E.authenticator,
        `credentials for more than one authentication method are set (${vars.join(", ")}) and ${E.authenticator} does not say which to use`,
        `Set ${E.authenticator} to ${kinds.join(" or ")}, and unset the variables of the other method.`,
      );
    }
    kind = kinds[0] as SnowflakeAuth["kind"];
  }

  if (kind === "password") {
    if (passphrase !== undefined) throw passphraseWithoutKey();
    if (password === undefined) {
      throw settingError(
        E.password,
        `${E.authenticator}=password but ${E.password} is not set`,
        `Set ${E.password}, or choose another ${E.authenticator}.`,
      );
    }
    return { kind, password };
  }

  if (kind === "keypair") {
    if (keyPath !== undefined && key !== undefined) {
      throw settingError(
        E.privateKey,
        `both ${E.privateKeyPath} and ${E.privateKey} are set: the settings contradict each other`,
        `Keep one: ${E.privateKeyPath} for a key file, or ${E.privateKey} for the PEM text.`,
      );
    }
    if (keyPath === undefined && key === undefined) {
      throw settingError(
        E.privateKeyPath,
        `key-pair authentication needs a private key, and neither ${E.privateKeyPath} nor ${E.privateKey} is set`,
        `Set ${E.privateKeyPath} to a PKCS#8 PEM file, or ${E.privateKey} to its text.`,
      );
    }
    const auth: Extract<SnowflakeAuth, { kind: "keypair" }> = { kind };
    if (keyPath !== undefined) auth.privateKeyPath = keyPath.trim();
    if (key !== undefined) auth.privateKey = normalizePem(key);
    if (passphrase !== undefined) auth.passphrase = passphrase;
    return auth;
  }

  if (passphrase !== undefined) throw passphraseWithoutKey();
  let provider: WorkloadIdentityProvider;
  if (providerText !== undefined) {
    const upper = providerText.trim().toUpperCase();
    if (!(WORKLOAD_IDENTITY_PROVIDERS as readonly string[]).includes(upper)) {
      throw settingError(
        E.provider,
        `${E.provider}="${providerText.trim()}" is not a workload identity provider`,
        `Use one of ${WORKLOAD_IDENTITY_PROVIDERS.join(", ")}.`,
      );
    }
    provider = upper as WorkloadIdentityProvider;
  } else if (token !== undefined) {
    provider = "OIDC";
  } else {
    throw settingError(
      E.provider,
      `workload identity authentication needs a provider, and neither ${E.provider} nor ${E.token} is set`,
      `Set ${E.provider} to AWS, AZURE or GCP (credentials from the cloud this runs in), or set ${E.token} to an OIDC ID token (e.g. from GitHub Actions with permissions: id-token: write).`,
    );
  }
  if (provider === "OIDC" && token === undefined) {
    throw settingError(
      E.token,
      `${E.provider}=OIDC needs the identity token, and ${E.token} is not set`,
      `Set ${E.token} to the OIDC ID token (in GitHub Actions: core.getIDToken(), with permissions: id-token: write).`,
    );
  }
  if (provider !== "OIDC" && token !== undefined) {
    throw settingError(
      E.token,
      `${E.token} is set but ${E.provider}=${provider} fetches its own attestation: the settings contradict each other`,
      `Unset ${E.token}, or set ${E.provider}=OIDC to use the token.`,
    );
  }
  return token === undefined ? { kind: "oidc", provider } : { kind: "oidc", provider, token };
}

/** The names of the variables whose values are set. */
function setNames(...pairs: [string, string | undefined][]): string[] {
  return pairs.filter(([, value]) => value !== undefined).map(([name]) => name);
}

function passphraseWithoutKey(): InputError {
  return settingError(
    E.passphrase,
    `${E.passphrase} is set but no private key is used`,
    `Set ${E.privateKeyPath} or ${E.privateKey} (key-pair auth), or unset ${E.passphrase}.`,
  );
}

/**
 * CI secrets often hold a PEM with its line breaks written as "\n": snowflake-sdk only accepts a
 * key whose END line follows a real newline, so restore them.
 */
function normalizePem(text: string): string {
  const pem = !text.includes("\n") && text.includes("\\n") ? text.replaceAll("\\n", "\n") : text;
  const trimmed = pem.trim();
  if (
    !/^-----BEGIN (ENCRYPTED |RSA )?PRIVATE KEY-----\n[\s\S]+\n-----END (ENCRYPTED |RSA )?PRIVATE KEY-----$/.test(
      trimmed,
    )
  ) {
    throw settingError(
      E.privateKey,
      `${E.privateKey} does not hold a PEM private key (expected "-----BEGIN PRIVATE KEY-----" ... "-----END PRIVATE KEY-----")`,
      `Store the whole PEM file's text, line breaks included (or written as \\n); convert other formats with: openssl pkcs8 -topk8 -in key.pem -out rsa_key.p8`,
    );
  }
  return `${trimmed}\n`;
}

/**
 * Checks a settings object however it was built (env, config file, tests): identifiers that
 * reach SQL are validated here, before any connection or statement.
 */
export function validateSnowflakeSettings(settings: SnowflakeSettings): void {
  const check = (value: string, variable: string, what: string): void => {
    try {
      validateIdentifier(value, `Snowflake ${what}`);
    } catch (error) {
      throw settingError(
        variable,
        (error as Error).message,
        `Set ${variable} to a plain Snowflake identifier (names that need quoting are not supported).`,
      );
    }
  };
  if (!ACCOUNT.test(settings.account)) {
    throw settingError(
      E.account,
      `invalid Snowflake account identifier "${settings.account}"`,
      `Set ${E.account} to the account identifier only (e.g. myorg-myaccount or xy12345.eu-west-1), without https:// or .snowflakecomputing.com.`,
    );
  }
  check(settings.warehouse, E.warehouse, "warehouse");
  check(settings.database, E.database, "database");
  check(settings.schema, E.schema, "schema");
  if (settings.role !== undefined) check(settings.role, E.role, "role");
  if (settings.auth.kind !== "oidc" && !settings.user) {
    throw settingError(
      E.user,
      `${E.user} is not set: ${settings.auth.kind === "password" ? "password" : "key-pair"} authentication needs the login name`,
      `Set ${E.user} to the Snowflake user (a service user for CI).`,
    );
  }
}

/** snowflake-sdk's authenticator names (AuthenticationTypes in lib/authentication). */
export const SDK_AUTHENTICATOR: Record<SnowflakeAuth["kind"], string> = {
  password: "SNOWFLAKE",
  keypair: "SNOWFLAKE_JWT",
  oidc: "WORKLOAD_IDENTITY",
};

/** The options handed to snowflake-sdk's createConnection: its own option names, nothing else. */
export function snowflakeConnectionOptions(settings: SnowflakeSettings): ConnectionOptions {
  const options: ConnectionOptions = {
    account: settings.account,
    warehouse: settings.warehouse,
    database: settings.database,
    schema: settings.schema,
    authenticator: SDK_AUTHENTICATOR[settings.auth.kind],
  };
  if (settings.user !== undefined) options.username = settings.user;
  if (settings.role !== undefined) options.role = settings.role;
  const auth = settings.auth;
  switch (auth.kind) {
    case "password":
      options.password = auth.password;
      break;
    case "keypair":
      if (auth.privateKeyPath !== undefined) options.privateKeyPath = auth.privateKeyPath;
      if (auth.privateKey !== undefined) options.privateKey = auth.privateKey;
      if (auth.passphrase !== undefined) options.privateKeyPass = auth.passphrase;
      break;
    case "oidc":
      options.workloadIdentityProvider = auth.provider;
      if (auth.token !== undefined) options.token = auth.token;
      break;
  }
  return options;
}

/** The secret values of these settings, so that any text shown can be scrubbed of them. */
export function snowflakeSecrets(settings: SnowflakeSettings): string[] {
  const auth = settings.auth;
  const values =
    auth.kind === "password"
      ? [auth.password]
      : auth.kind === "keypair"
        ? [auth.privateKey, auth.passphrase, ...pemBody(auth.privateKey)]
        : [auth.token];
  // Very short values would scrub ordinary words out of messages; they are not worth hiding
  // from an error message anyway (and Snowflake refuses such passwords).
  return values.filter((v): v is string => typeof v === "string" && v.length >= 4);
}

/** The base64 lines of a PEM: a message quoting part of the key would still be scrubbed. */
function pemBody(pem: string | undefined): string[] {
  if (!pem) return [];
  return pem
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length >= 16 && !line.startsWith("-----"));
}

/** Where this is and how it logs in, safe to print. */
export function describeSnowflake(settings: SnowflakeSettings): string {
  const auth =
    settings.auth.kind === "oidc"
      ? `workload identity (${settings.auth.provider})`
      : settings.auth.kind === "keypair"
        ? "key pair"
        : "password";
  const who = settings.user ? `user ${settings.user}, ` : "";
  const role = settings.role ? `, role ${settings.role}` : "";
  return `snowflake:${settings.account}/${settings.database}.${settings.schema} (${who}warehouse ${settings.warehouse}${role}, ${auth})`;
}

/** Replaces every secret in a text by "***". */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join("***");
  return out;
}
