#!/usr/bin/env node
// The CLI (sdk/cli/main.ts), run through tsx, resolved from this package (not the caller's folder).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../sdk/cli/main.ts');
const status = await main(process.argv.slice(2));
// Not only exitCode: a task whose last lines could not be stored would keep retrying for ever.
// (stdout and stderr are synchronous on Linux pipes and files: nothing written is cut.)
process.exit(status);
