#!/usr/bin/env node
// The `berth` command on Node. V8's start-up settings are held before anything of berth is
// loaded, so berth's own modules are imported only after that (node-startup.ts). Only the
// server sets them back (when it listens): the other commands run with V8's defaults.
import { holdDuringStartup } from './node-startup.ts';

if (process.argv[2] === 'serve') holdDuringStartup();
await import('./node-main.ts');
