import { writeFile } from 'node:fs/promises';
import { configReference } from '../config/reference.ts';
import { configSchema } from '../schema.ts';

/** `npm run docs`: writes docs/configuration.md from the schema. */
await writeFile(new URL('../../../docs/configuration.md', import.meta.url), configReference(configSchema));
