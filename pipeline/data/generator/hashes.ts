/**
 * The 64-hex-character identifiers of the challenge files. Each is the sha256 of
 * `seed:kind:index`, so an id depends only on what it names: the same SKU or session keeps its
 * hash when other options (session count, decoration) change, and the seed changes them all.
 */
import { createHash } from "node:crypto";

export type HashKind = "session" | "sku" | "category" | "product-url" | "page-url";

export function stableHash(seed: number, kind: HashKind, index: number): string {
  return createHash("sha256").update(`${seed}:${kind}:${index}`).digest("hex");
}
