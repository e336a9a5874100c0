export { LimitGate, type Admission, type LimitGateOptions } from './gate.js';
export {
  RateLimitCatalog,
  parseBucketSpec,
  resolveHandlerLimits,
  type BucketSpec,
  type HandlerLimits,
  type RateLimitCallOptions,
  type RateLimitOption,
  type RateLimitSpec,
} from '../core/rate-limit-spec.js';
export { WakeSchedule } from './wake-schedule.js';
