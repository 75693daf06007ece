/**
 * The train image's ENTRYPOINT, bundled to containers/dist/train-bootstrap.mjs: runs the job's
 * command (`train --compute local …`) with the code package named by MLOPS_CODE_PACKAGE. The
 * bundle sits next to the image's node_modules, which its npm imports resolve from.
 */
import { tmpdir } from "node:os";
import { dirname, resolve } from "node:path";
import { errorLines, errorReport } from "../errors.ts";
import { LocalStore } from "../store/local-store.ts";
import { parseS3Url, S3Store } from "../store/s3-store.ts";
import { CODE_PACKAGE_ENV, runCodePackage } from "./code-bootstrap.ts";

try {
  process.exitCode = await runCodePackage({
    packageUrl: process.env[CODE_PACKAGE_ENV],
    imageRoot: dirname(resolve(process.argv[1] ?? ".")),
    workDir: process.env.MLOPS_CODE_DIR ?? tmpdir(),
    args: process.argv.slice(2),
    openStore: (location) =>
      location.startsWith("s3://") ? new S3Store(parseS3Url(location)) : new LocalStore(location),
    log: (line) => process.stderr.write(`${line}\n`),
  });
} catch (error) {
  const report = errorReport(error);
  process.stderr.write(errorLines(report));
  process.exitCode = report.exitCode;
}
