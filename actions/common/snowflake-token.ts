/**
 * Snowflake workload identity with provider OIDC logs in with an OIDC ID token. In a GitHub
 * Actions job with `permissions: id-token: write` the job's own token serves: minted here for
 * Snowflake's audience right before the stage reads its settings (the tokens live minutes), put
 * in SNOWFLAKE_TOKEN for the pipeline's connection and for dbt-core's profile, and masked.
 * Nothing happens when a token is set, when the settings ask for another method, or when the job
 * cannot mint one (the settings' own error then says what is missing).
 */
import {
  SNOWFLAKE_ENV,
  SNOWFLAKE_OIDC_AUDIENCE,
  needsOidcToken,
} from "../../pipeline/warehouse/snowflake/config.ts";

/** Whether a token was minted. `mint` is @actions/core's getIDToken. */
export async function provideSnowflakeToken(
  env: NodeJS.ProcessEnv,
  mint: (audience: string) => Promise<string>,
  mask: (secret: string) => void,
): Promise<boolean> {
  if (!needsOidcToken(env) || !env.ACTIONS_ID_TOKEN_REQUEST_URL) return false;
  const audience = env.SNOWFLAKE_OIDC_AUDIENCE?.trim() || SNOWFLAKE_OIDC_AUDIENCE;
  const token = await mint(audience);
  mask(token);
  env[SNOWFLAKE_ENV.token] = token;
  return true;
}
