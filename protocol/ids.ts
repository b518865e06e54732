import { z } from 'zod';
import { ID_PATTERN, ID_RULE } from './constants.js';

export const TaskIdSchema = z.string().regex(ID_PATTERN, `task id: ${ID_RULE}`);
export const AgentIdSchema = z.string().regex(ID_PATTERN, `agent id: ${ID_RULE}`);
