/**
 * A small JSON Schema checker for the keywords dbt's artifact schemas use (type, const, enum,
 * anyOf, properties, required, additionalProperties, items): enough to validate our artifacts
 * against dbt's own schema files without a validator dependency.
 */
export type Schema = {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  title?: string;
};

function typeOf(value: unknown): string[] {
  if (value === null) return ["null"];
  if (Array.isArray(value)) return ["array"];
  if (typeof value === "number")
    return Number.isInteger(value) ? ["integer", "number"] : ["number"];
  if (typeof value === "boolean") return ["boolean"];
  if (typeof value === "string") return ["string"];
  return ["object"];
}

/**
 * Every violation, as `path: what`; empty when the value conforms. `strict` also refuses keys an
 * object schema does not name where dbt tolerates extras (a typo there would pass unnoticed).
 */
export function validate(schema: Schema, value: unknown, path = "$", strict = false): string[] {
  if (schema.anyOf) {
    const attempts = schema.anyOf.map((option) => validate(option, value, path, strict));
    if (attempts.some((errors) => errors.length === 0)) return [];
    // Report against the closest option (fewest violations): the one that was meant.
    return attempts.reduce((best, errors) => (errors.length < best.length ? errors : best));
  }
  const errors: string[] = [];
  if (schema.type !== undefined) {
    const allowed = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!typeOf(value).some((t) => allowed.includes(t))) {
      return [`${path}: expected ${allowed.join(" or ")}, got ${typeOf(value)[0]}`];
    }
  }
  if ("const" in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) {
    errors.push(`${path}: expected ${JSON.stringify(schema.const)}`);
  }
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) =>
      errors.push(...validate(schema.items as Schema, item, `${path}[${i}]`, strict)),
    );
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    for (const key of schema.required ?? []) {
      if (!(key in record)) errors.push(`${path}: missing required "${key}"`);
    }
    for (const [key, item] of Object.entries(record)) {
      const property = schema.properties?.[key];
      if (property) errors.push(...validate(property, item, `${path}.${key}`, strict));
      else if (
        schema.additionalProperties === false ||
        (strict &&
          schema.properties &&
          schema.additionalProperties !== undefined &&
          typeof schema.additionalProperties !== "object")
      ) {
        errors.push(`${path}: "${key}" is not a property the schema defines`);
      } else if (typeof schema.additionalProperties === "object") {
        errors.push(...validate(schema.additionalProperties, item, `${path}.${key}`, strict));
      }
    }
  }
  return errors;
}
