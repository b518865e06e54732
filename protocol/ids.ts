import { z } from 'zod';

/** Ids appear in URLs, DynamoDB keys and log output: keep them short and unambiguous. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const ID_RULE = 'use 1-128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit';

export const TaskIdSchema = z.string().regex(ID_PATTERN, `task id: ${ID_RULE}`);
export const AgentIdSchema = z.string().regex(ID_PATTERN, `agent id: ${ID_RULE}`);
