// Reading the files that models and manifests come from. Synchronous on purpose: this runs once
// at start-up (and on an explicit reload), before any socket is open, and keeps the loaders'
// results plain values.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { edgetwinError, type EdgetwinError } from '../errors.js';

export const MODEL_EXTENSIONS: readonly string[] = ['.json', '.yaml', '.yml'];

/** Does the file name look like a source we read from a folder (and not an editor's dot-file)? */
function wanted(name: string, extensions: readonly string[]): boolean {
  return !name.startsWith('.') && extensions.includes(extname(name).toLowerCase());
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Expands each path: a file is taken as is (whatever its extension, since it was named
 * explicitly); a folder gives its files with one of `extensions`, not recursively, sorted so the
 * load order (and so which duplicate wins) does not depend on the file system.
 */
export function listSourceFiles(
  paths: readonly string[],
  extensions: readonly string[],
): { files: string[]; errors: EdgetwinError[] } {
  const files: string[] = [];
  const errors: EdgetwinError[] = [];
  for (const path of paths) {
    try {
      if (!statSync(path).isDirectory()) {
        files.push(path);
        continue;
      }
      const names = readdirSync(path).filter((name) => wanted(name, extensions)).sort();
      for (const name of names) {
        const file = join(path, name);
        // Follows symlinks; a sub-folder named like a file (`x.yaml/`) is not a source.
        if (statSync(file).isFile()) files.push(file);
      }
    } catch (err) {
      errors.push(edgetwinError('EDGETWIN_ERR_FILE_READ', `Cannot read ${path}: ${reason(err)}`, [{ path, message: reason(err) }], err));
    }
  }
  return { files, errors };
}

/** The file's text, or an EDGETWIN_ERR_FILE_READ naming it. */
export function readTextFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw edgetwinError('EDGETWIN_ERR_FILE_READ', `Cannot read ${path}: ${reason(err)}`, [{ path, message: reason(err) }], err);
  }
}

/** JSON files are parsed as JSON (stricter, clearer errors); everything else as YAML. */
export function isJsonFile(path: string): boolean {
  return extname(path).toLowerCase() === '.json';
}
