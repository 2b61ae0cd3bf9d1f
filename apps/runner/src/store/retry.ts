import { setTimeout as sleep } from "node:timers/promises";

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Delay before the second attempt; each later delay doubles, up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Each attempt is aborted after this long, so no request hangs past its deadline. */
  attemptTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 6,
  baseDelayMs: 250,
  maxDelayMs: 8000,
  attemptTimeoutMs: 120_000,
};

/** A failed attempt, passed to the retry callback before the backoff sleep. */
export interface RetryEvent {
  operation: string;
  target: string;
  attempt: number;
  delayMs: number;
  error: unknown;
}

/**
 * Returns the delay after failed attempt `attempt` (1-based): base x 2^(attempt - 1), capped, with
 * "equal jitter" (half fixed, half uniform) so that many shards do not retry in step.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Runs `attempt` until it succeeds, a non-retryable error occurs or the attempts run out.
 * Each attempt gets an AbortSignal that fires after `attemptTimeoutMs`. Throws
 * `failure(lastError, attempts)`.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  context: { operation: string; target: string },
  attempt: (signal: AbortSignal, attemptNumber: number) => Promise<T>,
  options: {
    isRetryable: (error: unknown) => boolean;
    failure: (error: unknown, attempts: number) => Error;
    onRetry?: (event: RetryEvent) => void;
  },
): Promise<T> {
  for (let number = 1; ; number++) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), policy.attemptTimeoutMs);
    try {
      return await attempt(controller.signal, number);
    } catch (error) {
      const timedOut = controller.signal.aborted;
      if (number >= policy.maxAttempts || (!timedOut && !options.isRetryable(error))) {
        throw options.failure(error, number);
      }
      const delayMs = backoffDelay(policy, number);
      options.onRetry?.({ ...context, attempt: number, delayMs, error });
      await sleep(delayMs);
    } finally {
      clearTimeout(timer);
    }
  }
}
