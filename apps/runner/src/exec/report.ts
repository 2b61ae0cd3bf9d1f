import { relative } from "node:path";
import {
  type Leaderboard,
  metricPlot,
  type ReportImage,
  type ReportItem,
  type ReportPlot,
  renderReport,
} from "@tweedie/eval";
import { LocalBlobStore } from "../store/local.js";
import type { CellRecord } from "../store/record.js";
import type { ResultStore } from "../store/results.js";

type RichRecord = CellRecord & {
  solver?: { label?: string };
  dataset?: { name?: string };
  item?: { id?: string };
  task?: { name?: string; kind?: string; sourcePrompt?: string; targetPrompt?: string };
  prompts?: { source?: string; target?: string };
};

/** At most this many items get image grids, so a large run still gives a small page. */
const MAX_ITEMS = 48;

export interface ReportImageOptions {
  /**
   * Whether images in a local store are embedded as PNG data URIs, so the HTML file needs no
   * other file. When false they are linked by a path relative to the report.
   */
  embedImages?: boolean;
}

/**
 * Image grids for a report: one item per (dataset, item, task, seed, sample), with the
 * measurement (or source), each solver's output and the reference. Local stores link
 * the images by a path relative to the report unless `embedImages` is set; other stores
 * (S3) always embed their bytes.
 */
export async function reportItems(
  stores: readonly { store: ResultStore; records: readonly CellRecord[] }[],
  reportDir: string,
  options: ReportImageOptions = {},
): Promise<ReportItem[]> {
  const groups = new Map<
    string,
    { prompt?: string; images: ReportImage[]; reference?: ReportImage; first?: ReportImage }
  >();
  for (const { store, records } of stores) {
    for (const raw of [...records].sort((a, b) => (a.cellId < b.cellId ? -1 : 1))) {
      const record = raw as RichRecord;
      if (record.status !== "ok") continue;
      const cell = record.cell as { seed?: number; sample?: number };
      const id = `${record.dataset?.name ?? "?"}/${record.item?.id ?? "?"} · ${record.task?.name ?? "?"} · seed ${cell.seed ?? 0}${cell.sample ? ` sample ${cell.sample}` : ""}`;
      let group = groups.get(id);
      if (!group) {
        if (groups.size >= MAX_ITEMS) continue;
        const prompt =
          record.task?.kind === "editing"
            ? `${record.prompts?.source ?? record.task.sourcePrompt ?? ""} → ${record.prompts?.target ?? record.task.targetPrompt ?? ""}`
            : undefined;
        group = { images: [], ...(prompt !== undefined ? { prompt } : {}) };
        groups.set(id, group);
      }
      const folder = store.cellFolder(record.cellId);
      const image = async (name: string) =>
        imageRef(store, `${folder}/${name}`, reportDir, options);
      const values: Record<string, number> = {};
      for (const [name, value] of Object.entries(record.metrics)) {
        if (
          typeof value === "number" &&
          ["psnr", "ssim", "success", "classSuccess", "consistency"].includes(name)
        )
          values[name] = Number(value.toFixed(name === "psnr" ? 2 : 3));
      }
      group.images.push({
        label: record.solver?.label ?? "output",
        role: "output",
        image: await image("output.png"),
        values,
      });
      if (!group.reference && record.files["reference.png"]) {
        const editing = record.task?.kind === "editing";
        group.reference = {
          label: editing ? "source" : "reference",
          role: editing ? "source" : "reference",
          image: await image("reference.png"),
        };
      }
      if (!group.first && record.files["measurement.png"]) {
        group.first = {
          label: "measurement",
          role: "measurement",
          image: await image("measurement.png"),
        };
      }
    }
  }
  return [...groups.entries()].map(([id, group]) => ({
    id,
    ...(group.prompt !== undefined ? { prompt: group.prompt } : {}),
    images: [
      ...(group.first ? [group.first] : []),
      ...group.images.sort((a, b) => (a.label < b.label ? -1 : 1)),
      ...(group.reference ? [group.reference] : []),
    ],
  }));
}

async function imageRef(
  store: ResultStore,
  key: string,
  reportDir: string,
  options: ReportImageOptions,
): Promise<ReportImage["image"]> {
  if (store.blobs instanceof LocalBlobStore && !options.embedImages) {
    return { path: relative(reportDir, `${store.blobs.root}/${key}`).split("\\").join("/") };
  }
  const bytes = await store.blobs.get(key);
  return { bytes: bytes ?? new Uint8Array(), mediaType: "image/png" };
}

/**
 * PSNR (or the first metric) against NFE, one plot per dataset with a series per solver
 * and task, because datasets differ too much in PSNR to share an axis.
 */
export function reportPlots(leaderboard: Leaderboard): ReportPlot[] {
  const column =
    leaderboard.columns.find((c) => c.key.startsWith("psnr@")) ?? leaderboard.columns[0];
  if (!column) return [];
  const datasets = [...new Set(leaderboard.groups.map((group) => group.key.dataset))];
  const plots: ReportPlot[] = [];
  for (const dataset of datasets) {
    const groups = leaderboard.groups.filter((group) => group.key.dataset === dataset);
    try {
      plots.push(
        metricPlot(
          { ...leaderboard, groups },
          {
            column: column.key,
            x: "nfe",
            seriesBy: ["solver", "task"],
            title:
              dataset === undefined
                ? `${column.key} against NFE per image`
                : `${dataset}: ${column.key} against NFE per image`,
          },
        ),
      );
    } catch {
      // A dataset without the column gets no plot.
    }
  }
  return plots;
}

export async function renderRunReport(
  title: string,
  leaderboard: Leaderboard,
  stores: readonly { store: ResultStore; records: readonly CellRecord[] }[],
  reportDir: string,
  meta: string[],
  options: ReportImageOptions = {},
): Promise<string> {
  return renderReport({
    title,
    leaderboard,
    meta,
    items: await reportItems(stores, reportDir, options),
    plots: reportPlots(leaderboard),
  });
}
