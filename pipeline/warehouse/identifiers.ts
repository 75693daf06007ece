/**
 * Identifiers reach SQL text (values never do: they are bound). Every identifier is checked
 * against a conservative pattern first, so a table or schema name from a config file or an
 * environment variable cannot smuggle SQL into a statement.
 */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,254}$/;

export function validateIdentifier(name: string, what = "identifier"): string {
  if (!IDENTIFIER.test(name)) {
    throw new Error(
      `invalid ${what} "${name}": use letters, digits, '_' or '$', starting with a letter or '_' (at most 255 characters)`,
    );
  }
  return name;
}

export function quoteIdentifier(name: string): string {
  return `"${validateIdentifier(name)}"`;
}
