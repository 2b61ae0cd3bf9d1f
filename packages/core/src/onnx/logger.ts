/**
 * The logger that library code receives. Library code never writes to the console; the
 * runner passes its own logger and decides what is printed.
 */
export interface Logger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

/** A logger that drops everything: the default when the caller passes none. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/**
 * onnxruntime severity levels (the `logSeverityLevel` session option): 0 verbose, 1 info,
 * 2 warning, 3 error, 4 fatal. This table and `ortSeverityForLevel` are the one place
 * where onnxruntime severities meet ours.
 */
const ORT_SEVERITY_TO_LEVEL: readonly LogLevel[] = ["debug", "info", "warn", "error", "error"];

/** Writes a message that onnxruntime reported at `severity` to `logger` at our level. */
export function logAtOrtSeverity(
  logger: Logger,
  severity: number,
  message: string,
  data?: Record<string, unknown>,
): void {
  const index = Math.min(Math.max(Math.trunc(severity), 0), ORT_SEVERITY_TO_LEVEL.length - 1);
  logger[ORT_SEVERITY_TO_LEVEL[index]](message, data);
}

/**
 * Returns the onnxruntime severity that lets through what a logger at `level` shows;
 * "off" keeps only fatal messages. onnxruntime-node 1.31.1 writes its own native log
 * lines to stderr and offers no callback into JavaScript, so this threshold is the only
 * control we have. The adapter defaults it to "error".
 */
export function ortSeverityForLevel(level: LogLevel | "off"): 0 | 1 | 2 | 3 | 4 {
  switch (level) {
    case "debug":
      return 0;
    case "info":
      return 1;
    case "warn":
      return 2;
    case "error":
      return 3;
    case "off":
      return 4;
  }
}
