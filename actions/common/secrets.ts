/**
 * Masks secret values in the job log before anything runs: inputs and environment variables
 * whose names say they hold a credential (tokens, passwords, private keys and passphrases, AWS
 * secret keys and session tokens). A multi-line value (a PEM private key) is masked line by
 * line, because the runner matches masks within one log line.
 */
import * as core from "@actions/core";

const SECRET_NAME =
  /(TOKEN|PASSWORD|PASSPHRASE|PRIVATE_KEY|SECRET|AWS_ACCESS_KEY_ID|AWS_SESSION_TOKEN|CREDENTIALS)/i;

/** In a multi-line value, shorter lines are blank or armour; masking them would hide ordinary words. */
const MIN_MASKED = 8;

function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name.replaceAll("-", "_"));
}

export function secretValues(env: NodeJS.ProcessEnv): string[] {
  const values: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    // Inputs arrive as INPUT_<NAME>; the name after the prefix says what it holds.
    if (!isSecretName(name.replace(/^INPUT_/, ""))) continue;
    if (!/\r?\n/.test(value.trim())) {
      values.push(value);
      continue;
    }
    for (const line of value.split(/\r?\n/)) {
      const trimmed = line.trim();
      if (trimmed.length >= MIN_MASKED && !/^-----(BEGIN|END) /.test(trimmed)) values.push(trimmed);
    }
  }
  return values;
}

export function maskSecrets(env: NodeJS.ProcessEnv = process.env): number {
  const values = secretValues(env);
  for (const value of values) core.setSecret(value);
  return values.length;
}
