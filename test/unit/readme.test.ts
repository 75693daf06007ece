/**
 * The README's navigation: the contents list every section in order, and every link inside the
 * repository (a section anchor, a file, an image) leads somewhere.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, "")
    .replaceAll(" ", "-");
}

/** Text outside fenced code blocks. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, "");
}

function check(file: string): { anchors: Set<string>; problems: string[] } {
  const text = prose(readFileSync(join(ROOT, file), "utf8"));
  const anchors = new Set(
    [...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchor((m[1] as string).trim())),
  );
  const problems: string[] = [];
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const link = target as string;
    if (/^[a-z]+:/i.test(link)) continue; // https:, mailto:
    const [path, hash] = link.split("#") as [string, string | undefined];
    if (path === "") {
      if (!anchors.has(hash ?? "")) problems.push(`#${hash} has no heading`);
    } else if (!existsSync(join(ROOT, dirname(file), path))) {
      problems.push(`${path} does not exist`);
    }
  }
  return { anchors, problems };
}

describe("README.md", () => {
  const text = readFileSync(join(ROOT, "README.md"), "utf8");

  it("lists every section in its contents, in order", () => {
    const sections = [...prose(text).matchAll(/^## (.+)$/gm)]
      .map((m) => (m[1] as string).trim())
      .filter((h) => h !== "Contents");
    const contents = text.slice(
      text.indexOf("## Contents"),
      text.indexOf("\n## ", text.indexOf("## Contents") + 1),
    );
    const listed = [...contents.matchAll(/^- \[(.+)\]\(#(.+)\)$/gm)].map((m) => [m[1], m[2]]);
    expect(listed).toEqual(sections.map((h) => [h, anchor(h)]));
  });

  it.each(["README.md", "containers/README.md", "infra/README.md", "dbt/README.md"])(
    "%s links only to headings and files that exist",
    (file) => {
      expect(check(file).problems).toEqual([]);
    },
  );
});
