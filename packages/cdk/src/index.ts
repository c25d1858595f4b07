/**
 * Sluice's AWS CDK construct (`@sluice/cdk`). A package of its own so that aws-cdk-lib, constructs
 * (peer dependencies, as for any construct library) and esbuild are installed by CDK apps only,
 * never with the CLI; the handlers it deploys come from the `sluice` package.
 *
 * @example
 * new SluicePipeline(stack, 'FlowLogs', { sourceBucket, prefix: 'AWSLogs/', pipeline: 'pipeline.yaml' });
 */
export { SluicePipeline, type SluicePipelineProps } from './sluice-pipeline.js';
