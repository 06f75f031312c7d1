/**
 * Save/load of a ToyNet in Node: `model.json` + `weights.bin` (standard tfjs layers format, loadable
 * unchanged in the browser with `tf.loadLayersModel(url + '/model.json')`) + `config.json`
 * (`{config: MlpConfig, meta: {...}}`). Writes go to a temp dir that is renamed into place; an
 * interrupted save is repaired by `recoverArtifactsDir` on the next load or save.
 * The artifact format and its checks are in artifacts.ts (shared with the browser).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { MlpConfig, ToyNet } from './mlp.js';
import type { ExtraFile } from './io-handlers.js';
import { CONFIG_JSON, MODEL_JSON, WEIGHTS_BIN, LoadedToyNet, toyNetFromArtifacts, toyNetToArtifacts } from './artifacts.js';

export { CONFIG_JSON, MODEL_JSON, WEIGHTS_BIN };
export type { ToyNetFile } from './artifacts.js';

export async function saveToyNet(net: ToyNet, dir: string, meta: Record<string, unknown> = {}, extra?: ExtraFile[]): Promise<void> {
  await writeArtifactsDir(dir, { ...(await toyNetToArtifacts(net, meta)), extra });
}

const ARTIFACT_FILES = [MODEL_JSON, WEIGHTS_BIN, CONFIG_JSON] as const;

/** Writes `data` to a new file `file` (refusing an existing one) and fsyncs it before closing. */
export async function writeSynced(file: string, data: Uint8Array | string): Promise<void> {
  const h = await fs.open(file, 'wx');
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
}

/** fsync of a directory (its entries: a rename is durable once its folder is synced); best effort. */
async function syncDir(dir: string): Promise<void> {
  let h: fs.FileHandle | undefined;
  try {
    h = await fs.open(dir, 'r');
    await h.sync();
  } catch {
    // some file systems refuse fsync on a directory; the rename itself is still atomic
  } finally {
    await h?.close();
  }
}

/**
 * Writes model.json + weights.bin + config.json into `dir`, crash-safe: a temp dir `DIR.tmp-TAG` is
 * written completely first (each file fsynced, `extra` files after the weights, config.json last, so a temp dir with a parsable
 * config.json is complete), then `DIR` is renamed to `DIR.old-TAG`, the temp dir to `DIR`, and the old
 * copy removed. TAG starts with the writer's pid. A kill at any point leaves either `DIR` or a
 * complete `DIR.tmp-TAG` that `recoverArtifactsDir` (run by every load and save) puts back in place.
 * Whether `dir` may be replaced at all is the caller's decision (cli/output.ts checks it).
 */
/** A further file of a save (a training state), written into the folder before config.json. */
export type { ExtraFile };

export async function writeArtifactsDir(dir: string, art: { modelJson: unknown; weights: ArrayBuffer; file: unknown; extra?: ExtraFile[] }): Promise<void> {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  const tag = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const tmp = `${target}.tmp-${tag}`;
  await fs.mkdir(parent, { recursive: true });
  await recoverArtifactsDir(target);
  await fs.mkdir(tmp);
  try {
    await writeSynced(path.join(tmp, MODEL_JSON), JSON.stringify(art.modelJson));
    await writeSynced(path.join(tmp, WEIGHTS_BIN), new Uint8Array(art.weights));
    for (const f of art.extra ?? []) await writeSynced(path.join(tmp, f.name), f.data);
    await writeSynced(path.join(tmp, CONFIG_JSON), JSON.stringify(art.file, null, 2) + '\n');
    await syncDir(tmp);
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  const old = `${target}.old-${tag}`;
  const hadOld = await fs.rename(target, old).then(
    () => true,
    async (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return false;
      await fs.rm(tmp, { recursive: true, force: true });
      throw e;
    },
  );
  // a test hook: die between the two renames, as a kill at the worst moment would
  if (hadOld && process.env.PIFLOW_TEST_KILL_BETWEEN_RENAMES === '1') process.kill(process.pid, 'SIGKILL');
  try {
    await fs.rename(tmp, target);
  } catch (e) {
    if (hadOld) await fs.rename(old, target).catch(() => undefined);
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  await syncDir(parent);
  if (hadOld) await fs.rm(old, { recursive: true, force: true });
}

/** The leftovers of saves of `target` in its folder: `NAME.tmp-TAG` / `NAME.old-TAG` with TAG = pid-time-random. */
async function leftoversOf(target: string): Promise<{ path: string; kind: 'tmp' | 'old'; pid: number; time: number }[]> {
  const parent = path.dirname(target);
  const base = path.basename(target);
  let names: string[];
  try {
    names = await fs.readdir(parent);
  } catch {
    return [];
  }
  const out: { path: string; kind: 'tmp' | 'old'; pid: number; time: number }[] = [];
  for (const name of names) {
    if (!name.startsWith(base + '.')) continue;
    const m = /^\.(tmp|old)-(\d+)-([0-9a-z]+)-[0-9a-z]*$/.exec(name.slice(base.length));
    if (!m) continue;
    out.push({ path: path.join(parent, name), kind: m[1] as 'tmp' | 'old', pid: Number(m[2]), time: parseInt(m[3], 36) });
  }
  return out;
}

/** True while process `pid` runs (this process counts as running: its own saves are in flight). */
function writerAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A complete save: a directory with the three files and a config.json that parses. */
async function isCompleteSave(dir: string): Promise<boolean> {
  try {
    if (!(await fs.lstat(dir)).isDirectory()) return false;
    for (const f of ARTIFACT_FILES) if (!(await fs.lstat(path.join(dir, f))).isFile()) return false;
    JSON.parse(await fs.readFile(path.join(dir, CONFIG_JSON), 'utf8'));
    return true;
  } catch {
    return false;
  }
}

/**
 * Repairs what an interrupted `writeArtifactsDir` left: when `dir` is missing, the newest complete
 * `dir.tmp-*` (else the newest complete `dir.old-*`) of a writer that is gone is renamed into place;
 * then every `dir.tmp-*` / `dir.old-*` whose writer (the pid in its tag) is gone is removed. Leftovers
 * of a running writer are not touched. Returns what it did (for messages and tests).
 */
export async function recoverArtifactsDir(dir: string): Promise<{ restored?: string; removed: string[] }> {
  const target = path.resolve(dir);
  const stale = (await leftoversOf(target)).filter((l) => !writerAlive(l.pid));
  let restored: string | undefined;
  const exists = await fs.lstat(target).then(() => true, () => false);
  if (!exists) {
    for (const kind of ['tmp', 'old'] as const) {
      const candidates = stale.filter((l) => l.kind === kind).sort((a, b) => b.time - a.time);
      for (const c of candidates) {
        if (!(await isCompleteSave(c.path))) continue;
        await fs.rename(c.path, target);
        restored = c.path;
        break;
      }
      if (restored) break;
    }
  }
  const removed: string[] = [];
  if (exists || restored) {
    for (const l of stale) {
      if (l.path === restored) continue;
      await fs.rm(l.path, { recursive: true, force: true });
      removed.push(l.path);
    }
  }
  if (restored) await syncDir(path.dirname(target));
  return { restored, removed };
}

async function readFile(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as Error).message})`);
  }
}

async function readJson(file: string): Promise<unknown> {
  const text = (await readFile(file)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: bad JSON (${(e as Error).message})`);
  }
}

/** Reads the three artifact files of `dir` (checks come later, from the loaders). */
export async function readArtifactsDir(dir: string): Promise<{ modelJson: unknown; weights: ArrayBuffer; file: unknown; where: { config: string; model: string; weights: string } }> {
  await recoverArtifactsDir(dir);
  const where = { config: path.join(dir, CONFIG_JSON), model: path.join(dir, MODEL_JSON), weights: path.join(dir, WEIGHTS_BIN) };
  const file = await readJson(where.config);
  if (file === null || typeof file !== 'object' || typeof (file as { config?: unknown }).config !== 'object') {
    throw new Error(`${where.config}: expected {"config": {...}, "meta": {...}}`);
  }
  const modelJson = await readJson(where.model);
  const buf = await readFile(where.weights);
  const weights = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  return { modelJson, weights, file, where };
}

/** Load a ToyNet saved by `saveToyNet`. `expectKind` (optional) must match the stored kind. */
export async function loadToyNet(dir: string, expectKind?: MlpConfig['kind']): Promise<LoadedToyNet> {
  const art = await readArtifactsDir(dir);
  return toyNetFromArtifacts(art, art.where, expectKind);
}
