/** Entry point of the `pipeline` bin (see bin/pipeline.js). */
import { main } from "./program.ts";

const code = await main(process.argv.slice(2));
// Exit explicitly once stdout is flushed: idle sockets of cloud SDK clients must not keep a
// finished command alive.
process.stdout.write("", () => process.exit(code));
