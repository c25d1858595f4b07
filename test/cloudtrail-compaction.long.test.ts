/**
 * The CloudTrail end-to-end suite at the size: a few thousand small files (1,200 a day
 * over 2 accounts × 2 regions × 3 days, plus Insights, digests and the broken files) in s3rver.
 */
process.env.SLUICE_CT_FILES_PER_DAY ??= '1200';
await import('./cloudtrail-compaction.test.js');
