import type { z } from 'zod';
import { validator } from 'hono/validator';
import { ApiError } from './api-error.js';

type Target = 'json' | 'query' | 'param' | 'header';

const WHAT: Record<Target, string> = {
  json: 'request body',
  query: 'query string',
  param: 'path',
  header: 'request headers',
};

/** One problem, as `details` lists them: where (dotted path, '' for the whole value) and what. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/**
 * Hono's own validator with a zod schema: the parsed value (defaults applied) is read back with
 * `c.req.valid(target)`; a failure is a 400 `validation_failed` naming every problem.
 * For `json`, put `jsonBody()` first: it answers 415/413/400 for bodies that are not JSON.
 */
export function validate<T extends Target, S extends z.ZodType>(target: T, schema: S) {
  return validator(target, (value): z.output<S> => parseOrThrow(target, schema, value));
}

/** The check `validate()` makes, as a function: the parsed value, or the same 400 ApiError. */
export function parseOrThrow<S extends z.ZodType>(target: Target, schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues: ValidationIssue[] = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  const first = issues[0]!;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more, see details)` : '';
  throw new ApiError(
    400,
    'validation_failed',
    `invalid ${WHAT[target]}: ${first.path ? `${first.path}: ` : ''}${first.message}${more}`,
    { details: issues },
  );
}
