// Registered DMI mappers, kept in the data dir across restarts: mapper-framework registers once
// at start and never again (docs/dmi.md), so an edge that forgot its mappers would have lost
// them until they restart (the symptom of kubeedge/kubeedge PR #6597). Also kept: a digest of
// every Device and DeviceModel message each mapper acknowledged, so after a restart only what
// changed meanwhile is sent again.
//
// Its own small JSON file (`dmi-mappers.json`), not a table in the twin store: written whole,
// atomically (write a temp file, fsync it, rename it over the old one, fsync the folder), so a
// crash leaves the old or the new version, never a torn one.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { edgetwinError } from '../errors.js';

export interface MapperRegistration {
  readonly protocol: string;
  readonly name: string;
  readonly version: string;
  readonly apiVersion: string;
  /** The mapper's socket, an absolute path. */
  readonly address: string;
  readonly state: string;
  readonly registeredAt: number;
  /** Message key (`device:<ns>/<name>`, `model:<ns>/<name>`) → digest of what the mapper acknowledged. */
  readonly delivered: Readonly<Record<string, string>>;
}

interface RegistryFile {
  readonly format: 1;
  readonly mappers: readonly MapperRegistration[];
}

export const REGISTRY_FILE = 'dmi-mappers.json';

function isRegistration(v: unknown): v is MapperRegistration {
  const r = v as Partial<Record<keyof MapperRegistration, unknown>> | null;
  return (
    typeof r === 'object' && r !== null &&
    typeof r.protocol === 'string' && r.protocol !== '' && typeof r.address === 'string' &&
    typeof r.name === 'string' && typeof r.version === 'string' && typeof r.apiVersion === 'string' && typeof r.state === 'string' &&
    typeof r.registeredAt === 'number' && typeof r.delivered === 'object' && r.delivered !== null &&
    Object.values(r.delivered).every((d) => typeof d === 'string')
  );
}

export class MapperRegistry {
  readonly file: string;
  private writing: Promise<void> = Promise.resolve();
  private next?: readonly MapperRegistration[];

  constructor(dataDir: string) {
    this.file = path.join(dataDir, REGISTRY_FILE);
  }

  /** What was saved; none when there is no file yet. Throws EDGETWIN_ERR_DMI_REGISTRY for a corrupt one. */
  load(): MapperRegistration[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw edgetwinError('EDGETWIN_ERR_DMI_REGISTRY', `cannot read ${this.file}: ${(err as Error).message}`, [], err);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw edgetwinError('EDGETWIN_ERR_DMI_REGISTRY', `${this.file} is not valid JSON; move it away to start without registered mappers`, [], err);
    }
    const mappers = (parsed as Partial<RegistryFile> | null)?.mappers;
    if ((parsed as Partial<RegistryFile> | null)?.format !== 1 || !Array.isArray(mappers) || !mappers.every(isRegistration)) {
      throw edgetwinError('EDGETWIN_ERR_DMI_REGISTRY', `${this.file} is not a registry of DMI mappers (format 1); move it away to start without registered mappers`);
    }
    return mappers;
  }

  /**
   * Saves the whole list durably; resolves when it is on disk. Calls made while a write runs are
   * folded into one more write of the latest list. Rejects with EDGETWIN_ERR_DMI_REGISTRY.
   */
  save(mappers: readonly MapperRegistration[]): Promise<void> {
    const pending = this.next === undefined;
    this.next = mappers;
    if (!pending) return this.writing;
    this.writing = this.writing.then(async () => {
      const list = this.next ?? [];
      this.next = undefined;
      await mkdir(path.dirname(this.file), { recursive: true });
      try {
        writeAtomically(this.file, `${JSON.stringify({ format: 1, mappers: list } satisfies RegistryFile, null, 1)}\n`);
      } catch (err) {
        throw edgetwinError('EDGETWIN_ERR_DMI_REGISTRY', `cannot write ${this.file}: ${(err as Error).message}`, [], err);
      }
    });
    const written = this.writing;
    // A failed write must not poison the ones after it.
    this.writing = written.catch(() => undefined);
    return written;
  }

  /** Resolves once every save asked for so far is done. */
  async flush(): Promise<void> {
    await this.writing;
  }
}

/** tmp + fsync + rename + fsync(dir): the file is the old one or the new one after any crash. */
function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeFileSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
