export { type BlobStore, type BodySource, checkKey, type PutOptions } from "./blob.js";
export { LocalBlobStore } from "./local.js";
export { formatLocation, parseLocation, type StoreLocation } from "./location.js";
export { type OpenStoreOptions, openBlobStore, openResultStore } from "./open.js";
export {
  type CellRecord,
  type CellRecordInput,
  cellRecordSchema,
  type RunInfo,
  runInfoSchema,
} from "./record.js";
export {
  type Artifact,
  cellKey,
  type ListRecordsOptions,
  listLocationRecords,
  RECORD_FILE,
  type RecordState,
  ResultStore,
  RUN_FILE,
} from "./results.js";
export {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  type RetryEvent,
  type RetryPolicy,
  withRetry,
} from "./retry.js";
export { isRetryableS3Error, MIN_PART_SIZE, S3BlobStore, type S3StoreOptions } from "./s3.js";
