/**
 * GitHub Actions expressions (`${{ … }}`), evaluated as the runner evaluates them, for the
 * operators and values the workflows' routing uses: literals, context paths (`a.b.c`, `a['b']`),
 * `!`, `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`, `||`, parentheses, and `toJSON`.
 * https://docs.github.com/en/actions/reference/workflows-and-actions/expressions
 *
 * The semantics that matter for routing: a missing property is null (never an error); `&&` and
 * `||` return an operand, not a boolean; equality is loose (different types compare as numbers)
 * and strings compare case-insensitively; a value placed in a string (an `env:` entry) becomes
 * "true"/"false"/"" for true/false/null.
 */

export type Value = string | number | boolean | null | { [key: string]: Value } | Value[];

type Token =
  | { kind: "string"; value: string }
  | { kind: "number"; value: number }
  | { kind: "word"; value: string }
  | { kind: "op"; value: string };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let value = "";
      i++;
      for (;;) {
        if (i >= text.length) throw new Error(`unterminated string in ${text}`);
        if (text[i] === "'" && text[i + 1] === "'") {
          value += "'";
          i += 2;
        } else if (text[i] === "'") {
          i++;
          break;
        } else value += text[i++];
      }
      tokens.push({ kind: "string", value });
    } else if (/[0-9]/.test(c) || (c === "-" && /[0-9]/.test(text[i + 1] ?? ""))) {
      const match = /^-?[0-9][0-9.]*/.exec(text.slice(i)) as RegExpExecArray;
      tokens.push({ kind: "number", value: Number(match[0]) });
      i += match[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(text.slice(i)) as RegExpExecArray;
      tokens.push({ kind: "word", value: match[0] });
      i += match[0].length;
    } else {
      const two = text.slice(i, i + 2);
      const op = ["==", "!=", "<=", ">=", "&&", "||"].includes(two) ? two : c;
      if (
        !["==", "!=", "<=", ">=", "&&", "||", "!", "<", ">", "(", ")", "[", "]", ".", ","].includes(
          op,
        )
      ) {
        throw new Error(`unexpected ${JSON.stringify(op)} in ${text}`);
      }
      tokens.push({ kind: "op", value: op });
      i += op.length;
    }
  }
  return tokens;
}

function truthy(value: Value): boolean {
  return !(value === null || value === false || value === 0 || value === "" || Number.isNaN(value));
}

function toNumber(value: Value): number {
  if (value === null) return 0;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "number") return value;
  if (typeof value === "string") return value.trim() === "" ? 0 : Number(value);
  return Number.NaN;
}

function looseEqual(a: Value, b: Value): boolean {
  if (typeof a === "string" && typeof b === "string") return a.toLowerCase() === b.toLowerCase();
  if (typeof a === typeof b && (typeof a !== "object" || a === null || b === null)) return a === b;
  if (typeof a === "object" && a !== null) return a === b;
  return toNumber(a) === toNumber(b);
}

function compare(a: Value, b: Value): number {
  if (typeof a === "string" && typeof b === "string") {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return toNumber(a) - toNumber(b);
}

function property(value: Value, key: string): Value {
  if (value === null || typeof value !== "object") return null;
  if (Array.isArray(value)) return value[Number(key)] ?? null;
  const found = Object.keys(value).find((k) => k.toLowerCase() === key.toLowerCase());
  return found === undefined ? null : (value[found] as Value);
}

/** Evaluates one expression (the text between `${{` and `}}`) against `contexts`. */
export function evaluate(text: string, contexts: Record<string, Value>): Value {
  const tokens = tokenize(text);
  let at = 0;
  const peek = () => tokens[at];
  const take = (op?: string) => {
    const token = tokens[at++];
    if (!token || (op !== undefined && (token.kind !== "op" || token.value !== op))) {
      throw new Error(`expected ${op ?? "a value"} at token ${at} of ${text}`);
    }
    return token;
  };
  const isOp = (op: string) => peek()?.kind === "op" && peek()?.value === op;

  function primary(): Value {
    const token = take();
    if (token.kind === "string" || token.kind === "number") return token.value;
    if (token.kind === "op" && token.value === "(") {
      const value = or();
      take(")");
      return value;
    }
    if (token.kind === "op" && token.value === "!") return !truthy(primary());
    if (token.kind !== "word") throw new Error(`unexpected ${token.value} in ${text}`);
    if (token.value === "true") return true;
    if (token.value === "false") return false;
    if (token.value === "null") return null;
    if (isOp("(")) {
      take("(");
      const args: Value[] = [];
      while (!isOp(")")) {
        args.push(or());
        if (isOp(",")) take(",");
      }
      take(")");
      if (token.value === "toJSON") return JSON.stringify(args[0] ?? null, null, 2);
      throw new Error(`function ${token.value} is not supported here`);
    }
    let value: Value = contexts[token.value] ?? null;
    for (;;) {
      if (isOp(".")) {
        take(".");
        value = property(value, take().value as string);
      } else if (isOp("[")) {
        take("[");
        value = property(value, String(or()));
        take("]");
      } else return value;
    }
  }
  function comparison(): Value {
    let left = primary();
    for (;;) {
      const op = peek();
      if (op?.kind !== "op" || !["==", "!=", "<", "<=", ">", ">="].includes(op.value)) return left;
      take();
      const right = primary();
      left =
        op.value === "=="
          ? looseEqual(left, right)
          : op.value === "!="
            ? !looseEqual(left, right)
            : op.value === "<"
              ? compare(left, right) < 0
              : op.value === "<="
                ? compare(left, right) <= 0
                : op.value === ">"
                  ? compare(left, right) > 0
                  : compare(left, right) >= 0;
    }
  }
  function and(): Value {
    let left = comparison();
    while (isOp("&&")) {
      take("&&");
      const right = comparison();
      left = truthy(left) ? right : left;
    }
    return left;
  }
  function or(): Value {
    let left = and();
    while (isOp("||")) {
      take("||");
      const right = and();
      left = truthy(left) ? left : right;
    }
    return left;
  }
  const value = or();
  if (at !== tokens.length) throw new Error(`unexpected tokens after position ${at} in ${text}`);
  return value;
}

/** A workflow string with its `${{ … }}` parts evaluated, as an `env:` entry ends up. */
export function interpolate(template: string, contexts: Record<string, Value>): string {
  return template.replace(/\$\{\{([\s\S]*?)\}\}/g, (_, expression: string) => {
    const value = evaluate(expression, contexts);
    if (value === null) return "";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  });
}
