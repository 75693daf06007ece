#!/usr/bin/env node
// The CLI is TypeScript run through tsx's loader, so `npm ci` alone makes `npx pipeline` work:
// there is no build step whose output could go stale.
import { register } from "tsx/esm/api";

register();
await import("../pipeline/cli/main.ts");
