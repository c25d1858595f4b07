import { z } from 'zod';

/** Options of an `ocsf` transform whose mapping is a framework mapping CSV. */
export const aslCsvOptionsSchema = z
  .strictObject({
    logType: z.string().min(1).optional().describe('The src_log_type whose rows to use (needed when the file holds several).'),
    classUid: z.number().int().positive().describe('OCSF class of the events (the metadata file\'s ocsf_class_id), e.g. 4001 or 4002.'),
    timestampFormat: z.string().min(1).optional().describe('How timestamp-typed source columns are written: dd/MMM/yyyy:HH:mm:ss Z, iso8601, epoch, epoch_s, epoch_ms.'),
    enrichment: z
      .strictObject({
        field: z.string().min(1).describe('The source column that was looked up (enrichment_column).'),
        prefix: z.string().min(1).default('_enrichment_').describe('Prefix of the fields the enrich transform added.'),
        type: z.string().min(1).optional().describe('Written to enrichments[].type (the table name).'),
        provider: z.string().min(1).optional().describe('Written to enrichments[].provider (the database name).'),
      })
      .optional()
      .describe('Turns the fields an enrich transform added (prefix) into an OCSF `enrichments` entry.'),
  })
  .describe('Options of a Security Lake ETL framework mapping CSV.');
export type AslCsvOptions = z.output<typeof aslCsvOptionsSchema>;
