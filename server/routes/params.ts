import { z } from 'zod';
import { AgentIdSchema, TaskIdSchema } from '../../protocol/index.js';

export const TaskParamSchema = z.object({ id: TaskIdSchema });
export const AgentParamSchema = z.object({ agentId: AgentIdSchema });

/** RFC draft "The Idempotency-Key HTTP Header Field": we accept 1-200 visible ASCII characters. */
export const IdempotencyHeaderSchema = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,200}$/, 'Idempotency-Key must be 1-200 visible ASCII characters')
    .optional(),
});
