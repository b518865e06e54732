import { z } from 'zod';
import { PHASES } from './phases.js';
import { AgentIdSchema, TaskIdSchema } from './ids.js';

export const PhaseSchema = z.enum(PHASES);

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export const LogLevelSchema = z.enum(LOG_LEVELS);
export type LogLevel = z.infer<typeof LogLevelSchema>;

/**
 * The current status of a task. `seq` is the number of the task's latest stored event
 * (status change or log line); 0 means nothing has been posted yet.
 */
export const TaskSchema = z.object({
  id: TaskIdSchema,
  agentId: AgentIdSchema,
  title: z.string().nullable(),
  phase: PhaseSchema,
  progress: z.number().min(0).max(100).nullable(),
  message: z.string().nullable(),
  seq: z.int().min(0),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type Task = z.infer<typeof TaskSchema>;

/** One stored log line. `seq` orders it among all of the task's events. */
export const LogEntrySchema = z.object({
  seq: z.int().min(1),
  at: z.iso.datetime(),
  level: LogLevelSchema,
  message: z.string(),
});
export type LogEntry = z.infer<typeof LogEntrySchema>;
