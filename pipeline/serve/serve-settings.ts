/**
 * The inference server's capacity defaults, read off the settings' specs
 * (config/serve-settings.ts) so that the server run directly (tests, benchmarks) and
 * `pipeline serve` start from the same numbers.
 */
import { SERVE_LIMIT_SPECS, type ServeLimits } from "../config/serve-settings.ts";
import { sectionDefaults } from "../config/setting-spec.ts";

export type { ServeLimits } from "../config/serve-settings.ts";

// Every serve limit's spec carries a default.
export const SERVE_LIMIT_DEFAULTS = sectionDefaults<ServeLimits>(SERVE_LIMIT_SPECS, "serve.");
