/**
 * Rewrites the README's settings table from pipeline/config/settings.ts, the one place settings
 * are declared (test/unit/config.test.ts fails when the two disagree). Run after adding a
 * setting: `npm run docs:settings`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { SETTINGS, type SettingSpec } from "../pipeline/config/settings.ts";

const README = new URL("../README.md", import.meta.url);
const HEADER = "| setting (config file)";

function defaultOf(spec: SettingSpec): string {
  return spec.default === undefined ? "—" : `\`${String(spec.default)}\``;
}

const rows = SETTINGS.map(
  (s) =>
    `| \`${s.key}\` | \`${s.env}\` | \`${s.flag ?? ""}\` | ${defaultOf(s)} | ${s.allowed} | ${s.description} |`,
);
const lines = readFileSync(README, "utf8").split("\n");
const start = lines.findIndex((l) => l.startsWith(HEADER));
if (start < 0) throw new Error(`README.md has no table starting with "${HEADER}"`);
let end = start + 2;
while (lines[end]?.startsWith("|")) end++;
lines.splice(start + 2, end - start - 2, ...rows);
writeFileSync(README, lines.join("\n"));
console.log(`README.md: ${rows.length} settings; run prettier --write README.md to align it`);
