import { TweedieError } from "@tweedie/core";
import type { Cell } from "./cells.js";

/** Maximum number of accepted prompts named in an error; the rest are only counted. */
const MAX_LISTED_PROMPTS = 12;

/**
 * Checks every prompt of a plan against the label tables of label-conditioned models, so
 * that a misspelt class name fails before any cell runs, as a config error naming the
 * task field. `labelPrompts` maps a dataset name to the accepted prompts of its model
 * (the empty prompt included, and only the empty prompt for an unconditional model), or to
 * null where the model takes any prompt or none is known. `taskIndex` gives each task's position in the config, for error paths. One error
 * per (task, field, prompt).
 */
export function checkPlanPrompts(
  cells: readonly Cell[],
  labelPrompts: ReadonlyMap<string, ReadonlySet<string> | null>,
  taskIndex: ReadonlyMap<string, number>,
): TweedieError[] {
  const errors = new Map<string, TweedieError>();
  for (const cell of cells) {
    const accepted = labelPrompts.get(cell.dataset.name);
    if (!accepted) continue;
    const task = cell.task;
    const prompts: [string[], string][] =
      task.kind === "restoration"
        ? task.prompt === undefined
          ? []
          : [[["prompt"], task.prompt]]
        : [
            [["editing", "source"], task.sourcePrompt],
            [["editing", "target"], task.targetPrompt],
          ];
    for (const [field, prompt] of prompts) {
      if (accepted.has(prompt)) continue;
      const key = JSON.stringify([task.name, field, prompt]);
      if (errors.has(key)) continue;
      const listed = [...accepted]
        .filter((value) => value !== "")
        .map((value) => JSON.stringify(value));
      if (listed.length === 0) {
        errors.set(
          key,
          new TweedieError(
            `the model of dataset ${cell.dataset.name} is unconditional and takes only the empty prompt`,
            {
              code: "invalid_value",
              path: ["tasks", taskIndex.get(task.name) ?? task.name, ...field],
              received: prompt,
              hint: 'set the prompt to "", or give the dataset a conditioned model',
            },
          ),
        );
        continue;
      }
      const more =
        listed.length > MAX_LISTED_PROMPTS
          ? `, and ${listed.length - MAX_LISTED_PROMPTS} more`
          : "";
      errors.set(
        key,
        new TweedieError(
          `the model of dataset ${cell.dataset.name} has no label for prompt ${JSON.stringify(prompt)}`,
          {
            code: "invalid_value",
            path: ["tasks", taskIndex.get(task.name) ?? task.name, ...field],
            received: prompt,
            hint: `accepted: "" (unconditional), ${listed.slice(0, MAX_LISTED_PROMPTS).join(", ")}${more}`,
          },
        ),
      );
    }
  }
  return [...errors.values()];
}
