import { writeFile } from 'node:fs/promises';
import { configReference } from '../config/reference.ts';

/** `npm run docs`: writes docs/configuration.md from the schema. */
await writeFile(new URL('../../../docs/configuration.md', import.meta.url), configReference());
