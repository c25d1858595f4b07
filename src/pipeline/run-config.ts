/**
 * The run-level parts of a pipeline file that the runtime acts on: how a source is planned
 * (`load`, `source.group`) and who is told about failures (`runtime.notify`). They live in the
 * catalog with the rest of the pipeline schema; the runtime reads the parsed values.
 */
import { z } from 'zod';
import { parseIsoDate } from '../core/key-dates.js';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const isoDate = z
  .string()
  .regex(DATE, 'a date written yyyy-MM-dd')
  .refine((text) => parseIsoDate(text) !== undefined, 'a date that exists (yyyy-MM-dd)');

export const loadPlanSchema = z
  .strictObject({
    type: z.enum(['historical', 'daily']).describe('historical: a date range cut into periods; daily: the last N whole days, one unit per day.'),
    unit: z.enum(['day', 'month', 'year']).default('month').describe('Period of one unit for historical loads (the framework\'s batch_load_type): month (default), day or year.'),
    daysToProcess: z.number().int().min(1).max(36_600).optional().describe('Historical: from this many days before today to today. Wins over startDate/endDate.'),
    startDate: isoDate.optional().describe('Historical: first day (yyyy-MM-dd, UTC, inclusive).'),
    endDate: isoDate.optional().describe('Historical: last day (yyyy-MM-dd, UTC, inclusive).'),
    dailyDays: z.number().int().min(1).max(3660).default(1).describe('Daily: how many days back (1 = yesterday only).'),
  })
  .superRefine((load, ctx) => {
    if (load.type !== 'historical' || load.daysToProcess !== undefined) return;
    if (load.startDate === undefined || load.endDate === undefined) {
      ctx.addIssue({ code: 'custom', message: 'a historical load needs daysToProcess, or both startDate and endDate' });
      return;
    }
    if (load.startDate > load.endDate) ctx.addIssue({ code: 'custom', path: ['endDate'], message: `endDate ${load.endDate} is before startDate ${load.startDate}` });
  })
  .describe('Plan the source as date periods (months, days or years) instead of one unit per object.');

export type LoadPlan = z.output<typeof loadPlanSchema>;

export const groupSchema = z
  .strictObject({
    by: z
      .enum(['hour', 'day', 'folder'])
      .default('hour')
      .describe('One unit per folder and hour (default), per folder and day, or per folder; the time comes from the key (see key-dates), undated keys group per folder.'),
    maxObjectBytes: z
      .number()
      .int()
      .min(1)
      .default(4 * 1024 * 1024)
      .describe('Objects up to this size (bytes, default 4 MiB) are grouped; larger ones stay units of their own.'),
  })
  .describe('Read small objects together: one unit per folder and period instead of one per object (days of thousands of tiny files).');

export type GroupOptions = z.output<typeof groupSchema>;

export const notifySchema = z
  .strictObject({
    webhook: z.string().min(1).optional().describe('URL to POST the JSON message to, or a secret reference holding it (env:NAME, file:PATH, aws-secretsmanager:ID).'),
    command: z.string().min(1).optional().describe('Shell command run with the JSON message on stdin (and SLUICE_EVENT, SLUICE_PIPELINE, SLUICE_UNIT, SLUICE_ERROR set).'),
    on: z.array(z.enum(['unit_failed', 'unit_dead', 'run_failed'])).min(1).default(['unit_failed', 'unit_dead', 'run_failed']).describe('Which events notify.'),
    timeoutMs: z.number().int().min(100).max(300_000).default(10_000).describe('Longest wait for one delivery.'),
  })
  .refine((n) => n.webhook !== undefined || n.command !== undefined, 'give `webhook`, `command` or both')
  .describe('Notifications on failed or dead units and at the end of a run with failures.');

export type NotifyConfig = z.output<typeof notifySchema>;
