import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { TweedieError } from "@tweedie/core";
import { type BlobStore, type BodySource, checkKey, openBody } from "./blob.js";

/** Marks temporary files; listing skips any name that contains it. */
const TEMP_MARK = ".tmp-";

/**
 * A folder store. Every write goes to a temporary file in the target folder, is flushed
 * to disk, then renamed over the target. A crash therefore leaves either the old object
 * or the complete new one, plus at most a stray temporary file that listing ignores.
 */
export class LocalBlobStore implements BlobStore {
  readonly location: string;

  constructor(readonly root: string) {
    this.location = root;
  }

  private pathOf(key: string): string {
    return join(this.root, ...checkKey(key).split("/"));
  }

  async put(key: string, body: BodySource): Promise<void> {
    const target = this.pathOf(key);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}${TEMP_MARK}${process.pid}-${randomBytes(4).toString("hex")}`;
    try {
      const bytes = await openBody(body);
      if (bytes instanceof Readable) await pipeline(bytes, createWriteStream(temp));
      const handle = await open(temp, bytes instanceof Readable ? "r+" : "w");
      try {
        if (!(bytes instanceof Readable)) await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw new TweedieError(`cannot write ${target}`, {
        code: "io_failed",
        path: [target],
        cause: error,
      });
    }
  }

  /**
   * Deletes temporary files directly in the folder `prefix` (without a trailing slash).
   * A killed run leaves them; a cell is only rewritten when it has no record, so the
   * files there belong to an interrupted write and never to a live one of this run.
   */
  async removeStaleWrites(prefix: string): Promise<number> {
    const folder = this.pathOf(prefix);
    let names: string[];
    try {
      names = await readdir(folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw error;
    }
    const stale = names.filter((name) => name.includes(TEMP_MARK));
    await Promise.all(stale.map((name) => rm(join(folder, name), { force: true })));
    return stale.length;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const bytes = await readFile(this.pathOf(key));
      // A plain Uint8Array view, as the S3 store returns, so callers see one type.
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new TweedieError(`cannot read ${this.pathOf(key)}`, {
        code: "io_failed",
        path: [this.pathOf(key)],
        cause: error,
      });
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    // List from the deepest complete folder of the prefix, then filter by the full prefix.
    const cut = prefix.lastIndexOf("/");
    const folder = cut < 0 ? "" : prefix.slice(0, cut);
    if (folder !== "") checkKey(folder);
    yield* this.walk(folder, prefix);
  }

  private async *walk(folder: string, prefix: string): AsyncIterable<string> {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(folder ? join(this.root, ...folder.split("/")) : this.root, {
        withFileTypes: true,
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.name.includes(TEMP_MARK)) continue;
      const key = folder ? `${folder}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* this.walk(key, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        yield key;
      }
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}
