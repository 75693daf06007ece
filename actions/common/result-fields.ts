/**
 * Reads a stage's result by dotted path without trusting its shape. The actions map results to
 * outputs through this, so an action keeps working (and says which field it missed) while a
 * stage's result type grows, and a failed stage's partial result can be read the same way.
 */
export class ResultFields {
  constructor(readonly value: unknown) {}

  get(path: string): unknown {
    let current: unknown = this.value;
    for (const part of path.split(".")) {
      if (current === null || typeof current !== "object") return undefined;
      current = (current as Record<string, unknown>)[part];
    }
    return current;
  }

  string(path: string): string | undefined {
    const value = this.get(path);
    return typeof value === "string" ? value : undefined;
  }

  number(path: string): number | undefined {
    const value = this.get(path);
    return typeof value === "number" && Number.isFinite(value) ? value : undefined;
  }

  boolean(path: string): boolean | undefined {
    const value = this.get(path);
    return typeof value === "boolean" ? value : undefined;
  }
}
