/**
 * Sluice's AWS CDK construct (`sluice/cdk`). Kept out of every runtime import graph: only CDK
 * apps import this folder, so aws-cdk-lib never loads in the CLI or a Lambda bundle.
 *
 * @example
 * new SluicePipeline(stack, 'FlowLogs', { sourceBucket, prefix: 'AWSLogs/', pipeline: 'pipeline.yaml' });
 */
export { SluicePipeline, type SluicePipelineProps } from './sluice-pipeline.js';
