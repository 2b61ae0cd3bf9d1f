/**
 * Run progress for people and machines: a live bar on a terminal, plain lines in CI or
 * when output is piped, JSON lines with `--log-format json`. The runner reports events;
 * this module decides how they look.
 */
export type LogFormat = "auto" | "bar" | "plain" | "json";

export interface ProgressSink {
  write(text: string): void;
  isTTY: boolean;
}

export interface ProgressEvent {
  type: "start" | "cell-done" | "cell-skipped" | "cell-failed" | "note" | "end";
  cellId?: string;
  label?: string;
  message?: string;
  total?: number;
}

export class Progress {
  private done = 0;
  private failed = 0;
  private skipped = 0;
  private total = 0;
  private readonly startedAt = Date.now();
  private lastPlainAt = 0;
  private readonly mode: Exclude<LogFormat, "auto">;

  constructor(
    private readonly sink: ProgressSink,
    format: LogFormat,
    private readonly now: () => number = Date.now,
  ) {
    this.mode = format === "auto" ? (sink.isTTY && !process.env.CI ? "bar" : "plain") : format;
  }

  report(event: ProgressEvent): void {
    if (event.type === "start") this.total = event.total ?? 0;
    if (event.type === "cell-done") this.done++;
    if (event.type === "cell-failed") this.failed++;
    if (event.type === "cell-skipped") this.skipped++;
    if (this.mode === "json") {
      this.sink.write(
        `${JSON.stringify({ time: new Date(this.now()).toISOString(), ...event, ...this.counts() })}\n`,
      );
      return;
    }
    if (this.mode === "bar") this.renderBar(event);
    else this.renderPlain(event);
  }

  counts(): { done: number; failed: number; skipped: number; total: number } {
    return { done: this.done, failed: this.failed, skipped: this.skipped, total: this.total };
  }

  private rateAndEta(): { rate: number; eta: number } {
    const seconds = Math.max(1e-3, (this.now() - this.startedAt) / 1000);
    const finished = this.done + this.failed;
    const rate = finished / seconds;
    const remaining = this.total - finished - this.skipped;
    return { rate, eta: rate > 0 ? remaining / rate : Number.NaN };
  }

  private status(): string {
    const { rate, eta } = this.rateAndEta();
    const finished = this.done + this.failed + this.skipped;
    const etaText = Number.isFinite(eta) ? formatDuration(eta) : "--";
    return `${finished}/${this.total} cells (${this.done} done, ${this.failed} failed, ${this.skipped} already done) ${rate.toFixed(2)} cells/s, ETA ${etaText}`;
  }

  private renderBar(event: ProgressEvent): void {
    if (event.type === "cell-failed" || event.type === "note") {
      this.sink.write(
        `\r\x1b[2K${event.type === "cell-failed" ? `failed ${event.label ?? event.cellId}: ` : ""}${event.message ?? ""}\n`,
      );
    }
    const width = 30;
    const fraction = this.total > 0 ? (this.done + this.failed + this.skipped) / this.total : 1;
    const filled = Math.round(width * fraction);
    const bar = `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
    this.sink.write(`\r\x1b[2K${bar} ${this.status()}${event.type === "end" ? "\n" : ""}`);
  }

  private renderPlain(event: ProgressEvent): void {
    if (event.type === "cell-failed")
      this.sink.write(`failed ${event.label ?? event.cellId}: ${event.message ?? ""}\n`);
    if (event.type === "note") this.sink.write(`${event.message ?? ""}\n`);
    const due = this.now() - this.lastPlainAt >= 5000;
    if (event.type === "start" || event.type === "end" || due) {
      this.lastPlainAt = this.now();
      this.sink.write(`${this.status()}\n`);
    }
  }
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}
