import type { CaseDefinition } from '../types.ts';
import { blobPushCases } from './push-blobs.ts';
import { manifestPushCases } from './push-manifests.ts';

export const pushCases: CaseDefinition[] = [...blobPushCases, ...manifestPushCases];
