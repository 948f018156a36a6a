#!/usr/bin/env node
// The `berth` command on Node. The young generation is held small before anything of berth is
// loaded, so berth's own modules are imported only after that (node-heap.ts).
import { holdYoungGeneration } from './node-heap.ts';

holdYoungGeneration();
await import('./node-main.ts');
