/** The serving image's process: main.ts over the command line, then exit with its code. */
import { main } from "./main.ts";

process.exit(await main(process.argv.slice(2)));
