/**
 * The CLI accepts the flags the README's settings table lists, on the commands that use them.
 */
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../pipeline/cli/program.ts";
import { SETTINGS } from "../../pipeline/config/settings.ts";

const program = buildProgram();
const flagsOf = (name: string): string[] => {
  const command = program.commands.find((c) => c.name() === name);
  if (!command) throw new Error(`no command ${name}`);
  return command.options.map((o) => o.long ?? "");
};

describe("the CLI's flags", () => {
  it("accept every setting's flag on some command", () => {
    const accepted = new Set(program.commands.flatMap((c) => c.options.map((o) => o.long)));
    const missing = SETTINGS.filter((s) => s.flag && !accepted.has(s.flag)).map((s) => s.flag);
    expect(missing).toEqual([]);
  });

  it("give train and run the AWS Batch settings that --compute batch uses", () => {
    const batch = SETTINGS.filter((s) => s.key.startsWith("compute.batch.")).map((s) => s.flag);
    expect(batch.length).toBeGreaterThan(5);
    for (const command of ["train", "run"]) {
      expect(flagsOf(command)).toEqual(expect.arrayContaining(batch));
    }
  });

  it("give serve every serve.* setting", () => {
    const serve = SETTINGS.filter((s) => s.key.startsWith("serve.")).map((s) => s.flag);
    expect(flagsOf("serve")).toEqual(expect.arrayContaining(serve));
  });
});
