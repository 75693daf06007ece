/**
 * Reads a stage's result by dotted path without trusting its shape. The actions map results to
 * outputs through this, so an action keeps working (and says which field it missed) while a
 * stage's result type grows, and a failed stage's partial result can be read the same way. The
 * paths themselves are typed against the stage's result type (StageResults), so a path that
 * names no field of it fails the typecheck instead of leaving an output unset.
 */

/** How deep a path may go: deeper than any output reads, shallow enough to check quickly. */
type Deeper = [never, 0, 1, 2, 3, 4, 5];

/** The dotted paths into T: `report.roles.candidate`, `report.recommenders.0.name`. */
export type FieldPath<T, Depth extends number = 6> = [Depth] extends [never]
  ? never
  : T extends readonly (infer Item)[]
    ? `${number}` | `${number}.${FieldPath<NonNullable<Item>, Deeper[Depth]>}`
    : T extends object
      ? {
          [K in keyof T & string]-?: K | `${K}.${FieldPath<NonNullable<T[K]>, Deeper[Depth]>}`;
        }[keyof T & string]
      : never;

export class ResultFields<T> {
  /** `value` is what the stage returned, or a failed stage's partial result: typed as T only by hope. */
  constructor(readonly value: unknown) {}

  get(path: FieldPath<T>): unknown {
    let current: unknown = this.value;
    for (const part of path.split(".")) {
      if (current === null || typeof current !== "object") return undefined;
      current = (current as Record<string, unknown>)[part];
    }
    return current;
  }

  string(path: FieldPath<T>): string | undefined {
    const value = this.get(path);
    return typeof value === "string" ? value : undefined;
  }

  number(path: FieldPath<T>): number | undefined {
    const value = this.get(path);
    return typeof value === "number" && Number.isFinite(value) ? value : undefined;
  }

  boolean(path: FieldPath<T>): boolean | undefined {
    const value = this.get(path);
    return typeof value === "boolean" ? value : undefined;
  }
}
