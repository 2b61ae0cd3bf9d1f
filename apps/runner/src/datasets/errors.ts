import { renderError, TweedieError } from "@tweedie/core";

/** A dataset that failed to load: one error per problem (entry, file), rendered one per line. */
export class DatasetError extends TweedieError {
  readonly issues: readonly TweedieError[];

  constructor(source: string, issues: readonly TweedieError[]) {
    const count = issues.length === 1 ? "1 problem" : `${issues.length} problems`;
    super(`invalid dataset, ${count}\n${issues.map(renderError).join("\n")}`, {
      code: "invalid_value",
      path: [source],
    });
    this.name = "DatasetError";
    this.issues = issues;
  }

  /** Renders each problem as one plain line. */
  lines(): string[] {
    return this.issues.map(renderError);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), issues: this.issues.map((issue) => issue.toJSON()) };
  }
}
